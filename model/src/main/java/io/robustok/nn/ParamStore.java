package io.robustok.nn;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Creates the trainable variables of one SameDiff graph under hierarchical names ("encoder/blocks.0.attn.wqkv")
 * and remembers their arrays, in creation order, so a {@code TrainState} can be built from and loaded into them.
 *
 * <p>The arrays registered here ARE the graph's arrays: updating them in place (optimizer, {@link #load}) changes
 * what the graph computes, with no copy. Two graphs that must share weights (the generator step reads the
 * discriminator that the discriminator step trains) are built with {@link #shared}.
 */
public final class ParamStore {
    private final SameDiff sd;
    private final String prefix;
    private final LinkedHashMap<String, INDArray> arrays;
    private final Map<String, INDArray> shared;
    private final Random rng;
    private final boolean strict;

    private ParamStore(SameDiff sd, String prefix, LinkedHashMap<String, INDArray> arrays, Map<String, INDArray> shared, Random rng,
                       boolean strict) {
        this.sd = sd;
        this.prefix = prefix;
        this.arrays = arrays;
        this.shared = shared;
        this.rng = rng;
        this.strict = strict;
    }

    /** A fresh store; initial values are drawn from {@code seed}. */
    public static ParamStore create(SameDiff sd, long seed) {
        return new ParamStore(sd, "", new LinkedHashMap<>(), Map.of(), new Random(seed), false);
    }

    /** A store whose variables reuse (not copy) the arrays of {@code existing} when the name is present there. */
    public static ParamStore shared(SameDiff sd, Map<String, INDArray> existing, long seed) {
        return new ParamStore(sd, "", new LinkedHashMap<>(), existing, new Random(seed), false);
    }

    /**
     * A store that only reads {@code existing} (inference graphs built from trained weights): a parameter the graph
     * needs that is missing, or has another shape, is an error naming it and the expected shape.
     */
    public static ParamStore frozen(SameDiff sd, Map<String, INDArray> existing) {
        return new ParamStore(sd, "", new LinkedHashMap<>(), existing, new Random(0), true);
    }

    /** A view that prefixes names with {@code name + "/"} (networks) or {@code name + "."} (modules). */
    public ParamStore scope(String name) {
        String sep = prefix.isEmpty() || prefix.endsWith("/") ? "" : ".";
        return new ParamStore(sd, prefix + sep + name, arrays, shared, rng, strict);
    }

    /** Network-level scope: "encoder" makes names "encoder/...". */
    public ParamStore network(String name) {
        return new ParamStore(sd, name + "/", arrays, shared, rng, strict);
    }

    public SameDiff sd() {
        return sd;
    }

    public String name(String local) {
        if (prefix.isEmpty()) return local;
        return prefix.endsWith("/") ? prefix + local : prefix + "." + local;
    }

    /** Truncated normal (|x| <= 2 std) init, the ViT default with std 0.02. */
    public SDVariable normal(String local, double std, long... shape) {
        String n = name(local);
        INDArray a = existing(n, shape);
        if (a == null) {
            long len = 1;
            for (long d : shape) len *= d;
            float[] v = new float[Math.toIntExact(len)];
            for (int i = 0; i < v.length; i++) {
                double g;
                do {
                    g = rng.nextGaussian();
                } while (Math.abs(g) > 2);
                v[i] = (float) (g * std);
            }
            a = Nd4j.create(v, shape, DataType.FLOAT);
        }
        return register(n, a);
    }

    public SDVariable constant(String local, double value, long... shape) {
        String n = name(local);
        INDArray a = existing(n, shape);
        if (a == null) a = Nd4j.valueArrayOf(shape, (float) value, DataType.FLOAT);
        return register(n, a);
    }

    public SDVariable zeros(String local, long... shape) {
        return constant(local, 0, shape);
    }

    public SDVariable ones(String local, long... shape) {
        return constant(local, 1, shape);
    }

    private INDArray existing(String n, long[] shape) {
        INDArray a = shared.get(n);
        if (a == null && strict) {
            throw new IllegalArgumentException("parameter " + n + " missing, expected shape " + java.util.Arrays.toString(shape));
        }
        if (a != null && !java.util.Arrays.equals(a.shape(), shape)) {
            throw new IllegalArgumentException("parameter " + n + " has shape " + java.util.Arrays.toString(a.shape())
                    + ", expected " + java.util.Arrays.toString(shape));
        }
        return a;
    }

    private SDVariable register(String n, INDArray a) {
        if (arrays.containsKey(n)) throw new IllegalStateException("parameter " + n + " created twice");
        arrays.put(n, a);
        return sd.var(n, a);
    }

    /** The parameters created so far, by full name, in creation order (live arrays). */
    public LinkedHashMap<String, INDArray> arrays() {
        return arrays;
    }

    /** The parameters whose names start with {@code networkPrefix} (e.g. "disc/"). */
    public LinkedHashMap<String, INDArray> arrays(String networkPrefix) {
        LinkedHashMap<String, INDArray> m = new LinkedHashMap<>();
        arrays.forEach((k, v) -> {
            if (k.startsWith(networkPrefix)) m.put(k, v);
        });
        return m;
    }

    /**
     * Copies {@code values} into the live arrays (in place). Every parameter of this store must be present with
     * its shape; a missing or mismatched tensor is an error naming it and the expected shape.
     */
    public void load(Map<String, INDArray> values) {
        for (Map.Entry<String, INDArray> e : arrays.entrySet()) {
            INDArray v = values.get(e.getKey());
            if (v == null) {
                throw new IllegalArgumentException("parameter " + e.getKey() + " missing, expected shape "
                        + java.util.Arrays.toString(e.getValue().shape()));
            }
            if (!java.util.Arrays.equals(v.shape(), e.getValue().shape())) {
                throw new IllegalArgumentException("parameter " + e.getKey() + " has shape " + java.util.Arrays.toString(v.shape())
                        + ", expected " + java.util.Arrays.toString(e.getValue().shape()));
            }
            e.getValue().assign(v);
        }
    }
}
