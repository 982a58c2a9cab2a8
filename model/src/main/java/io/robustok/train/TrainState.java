package io.robustok.train;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Everything the master averages: named parameter tensors and named optimizer-state tensors.
 * Names are "network/param" (e.g. "encoder/blocks.0.attn.wqkv", "disc/head.w") so one map holds all
 * networks of a model; optimizer state names are "param-name#m", "param-name#v" and the like.
 * Insertion order is kept, so checkpoints and averages are deterministic.
 */
public final class TrainState implements Serializable {
    private static final long serialVersionUID = 1L;

    private final LinkedHashMap<String, INDArray> params;
    private final LinkedHashMap<String, INDArray> optState;

    public TrainState(Map<String, INDArray> params, Map<String, INDArray> optState) {
        this.params = new LinkedHashMap<>(params);
        this.optState = new LinkedHashMap<>(optState);
    }

    public Map<String, INDArray> params() {
        return params;
    }

    public Map<String, INDArray> optState() {
        return optState;
    }

    /** A deep copy (detached arrays), safe to hand to another thread or to mutate. */
    public TrainState copy() {
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
        params.forEach((k, v) -> p.put(k, v.dup()));
        LinkedHashMap<String, INDArray> o = new LinkedHashMap<>();
        optState.forEach((k, v) -> o.put(k, v.dup()));
        return new TrainState(p, o);
    }

    public long parameterCount() {
        long n = 0;
        for (INDArray a : params.values()) n += a.length();
        return n;
    }
}
