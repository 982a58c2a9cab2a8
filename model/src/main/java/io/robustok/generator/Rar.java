package io.robustok.generator;

import io.robustok.nn.Backprop;
import io.robustok.nn.Gelu;
import io.robustok.nn.LayerNorm;
import org.nd4j.linalg.api.ops.impl.controlflow.compat.StopGradient;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The RAR generator as one SameDiff graph over the whole sequence (training, and the reference forward that the
 * KV-cached {@link RarSampler} is tested against). Built once per worker; the parameters live in the graph and
 * are overwritten in place by {@link #load}.
 *
 * <p>Per block (DiT-style adaLN-zero, as RAR): {@code (shift, scale, gate) x 2 = Linear(SiLU(c))};
 * {@code x += gate1 * Attn(LN(x) * (1 + scale1) + shift1)}; {@code x += gate2 * MLP(LN(x) * (1 + scale2) + shift2)}.
 * The condition {@code c} is the class embedding (plus a per-position step embedding when configured); attention
 * is causal with LayerNorm on queries and keys (QK-norm). The input of each position is its token embedding plus
 * the position embedding of where that token sits plus the target-aware embedding of where the NEXT token sits
 * (SPEC section 5), which is what makes a random generation order learnable.
 */
public final class Rar {
    /** Placeholders: see {@link RarInputs}. */
    public static final String LOOKUP = "lookup", LABELS = "labels";
    /** Outputs: logits [N, T, V], mean cross-entropy, token accuracy. */
    public static final String LOGITS = "logits", LOSS = "loss", ACC = "acc";

    /** Additive mask value above the diagonal; exp() of it is exactly 0 in float. */
    static final double MASKED = -1e9;
    /**
     * Layer norms are {@link LayerNorm}'s GEMM form (in ND4J M2.1 the layer_norm op's backward costs several ms per
     * call at demo size, 17 calls a step). libnd4j's op, which {@link RarSampler} runs, divides by the standard
     * deviation with no epsilon; 1e-12 is that up to float rounding, without a NaN on a constant row.
     */
    static final double EPS = 1e-12;

    private final RarConfig cfg;
    private final SameDiff sd;
    private final List<String> paramNames;

    /** Builds the graph with {@code params} (copied) as its variables. */
    public Rar(RarConfig cfg, Map<String, INDArray> params) {
        this(cfg, params, true);
    }

    /** A graph at the initial parameters of {@link #init} (no copy: at RAR-L size a copy is 1.9 GB). */
    public static Rar initial(RarConfig cfg, long seed) {
        return new Rar(cfg, init(cfg, seed), false);
    }

    private Rar(RarConfig cfg, Map<String, INDArray> params, boolean copy) {
        this.cfg = cfg;
        this.sd = SameDiff.create();
        this.paramNames = new ArrayList<>(cfg.parameterShapes().keySet());
        for (String n : paramNames) {
            INDArray a = params.get(n);
            if (a == null) throw new IllegalArgumentException("generator parameter " + n + " missing");
            if (!java.util.Arrays.equals(a.shape(), cfg.parameterShapes().get(n))) {
                throw new IllegalArgumentException("generator parameter " + n + " has shape " + java.util.Arrays.toString(a.shape())
                        + ", the configuration needs " + java.util.Arrays.toString(cfg.parameterShapes().get(n)));
            }
            sd.var(n, copy || a.dataType() != DataType.FLOAT ? a.castTo(DataType.FLOAT).dup() : a);
        }
        build();
    }

    /**
     * Parameters at step 0: clipped normal (std 0.02, cut at 2 std) for embeddings and linear weights, zero biases,
     * unit LayerNorm gains, and zero adaLN projections (adaLN-zero: every block starts as the identity).
     */
    public static LinkedHashMap<String, INDArray> init(RarConfig cfg, long seed) {
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
        long s = seed;
        for (Map.Entry<String, long[]> e : cfg.parameterShapes().entrySet()) {
            String n = e.getKey();
            long[] shape = e.getValue();
            s = s * 6364136223846793005L + 1442695040888963407L;
            INDArray a;
            if (n.contains(".ada.") || n.endsWith(".b")) {
                a = Nd4j.zeros(DataType.FLOAT, shape);
            } else if (n.endsWith("norm.g")) {
                a = Nd4j.ones(DataType.FLOAT, shape);
            } else {
                a = Nd4j.randn(s, shape).castTo(DataType.FLOAT);
                a = org.nd4j.linalg.ops.transforms.Transforms.max(a, -2.0, false);
                a = org.nd4j.linalg.ops.transforms.Transforms.min(a, 2.0, false).muli(0.02);
            }
            p.put(n, a);
        }
        return p;
    }

    private SDVariable v(String name) {
        return sd.getVariable(name);
    }

    private void build() {
        int d = cfg.width(), l = cfg.seqLen(), t = cfg.tokens(), h = cfg.heads(), hd = cfg.headDim();
        // Every lookup (token, position, target-aware, condition) is one one-hot matmul into the stacked table
        // tok_emb | pos_emb | a zero row (no target: the start position) | target_pos_emb; see RarInputs.lookup.
        // Not gather: in ND4J 1.0.0-M2.1 gather's gradient is a SameDiff while-loop over the indices (minutes per
        // step) and two gathers in one graph fail ("Unable to replace samediff namespace"). The matmul costs a few
        // percent of the blocks' FLOPs.
        SDVariable lookup = sd.placeHolder(LOOKUP, DataType.INT, -1, 3 * l + 1);
        SDVariable labels = sd.placeHolder(LABELS, DataType.INT, -1, t);
        SDVariable table = sd.concat(0, v("tok_emb"), v("pos_emb"),
                sd.constant("target_zero", Nd4j.zeros(DataType.FLOAT, 1, d)), v("target_pos_emb"));
        int rows = cfg.embeddingRows() + 2 * t + 3;
        SDVariable oneHot = sd.oneHot(lookup.reshape(-1), rows, -1, 1.0, 0.0, DataType.FLOAT); // [N (3L + 1), rows]
        SDVariable e = sd.mmul(oneHot, table).reshape(-1, 3 * l + 1, d);
        SDVariable x = e.get(SDIndex.all(), SDIndex.interval(0, l), SDIndex.all())
                .add(e.get(SDIndex.all(), SDIndex.interval(l, 2 * l), SDIndex.all()))
                .add(e.get(SDIndex.all(), SDIndex.interval(2 * l, 3 * l), SDIndex.all()));
        SDVariable c = e.get(SDIndex.all(), SDIndex.interval(3 * l, 3 * l + 1), SDIndex.all()); // [N, 1, D]
        int lc = 1;
        if (cfg.stepEmbedding()) {
            c = c.add(v("step_emb").reshape(1, l, d)); // [N, L, D]
            lc = l;
        }
        SDVariable cs = sd.nn().swish(c).reshape(-1, d); // SiLU, [N * lc, D]
        INDArray maskArr = Nd4j.zeros(DataType.FLOAT, 1, 1, l, l);
        for (int i = 0; i < l; i++) for (int j = i + 1; j < l; j++) maskArr.putScalar(0, 0, i, j, MASKED);
        SDVariable mask = sd.constant("causal_mask", maskArr);
        double scale = 1.0 / Math.sqrt(hd);

        // [N * L, 1] of ones: the wide layers (qkv, fc1) add their bias by a rank-1 GEMM (nn.Linear explains why)
        SDVariable ones = LayerNorm.onesColumn(sd, x.reshape(-1, d));
        for (int i = 0; i < cfg.depth(); i++) {
            String b = "blocks." + i + ".";
            SDVariable mod = linear(cs, b + "ada").reshape(-1, lc, 6 * d);
            SDVariable[] m = sd.split(mod, 6, 2); // shift1, scale1, gate1, shift2, scale2, gate2
            SDVariable a = modulate(norm(x, l, d), m[0], m[1]);
            SDVariable qkv = linear(a.reshape(-1, d), b + "attn.qkv", ones);
            SDVariable[] s = sd.split(qkv, 3, 1);
            // QK-norm over each head's hd features: rows of [N * L * H, hd], then the heads' layout
            SDVariable q = heads(LayerNorm.affine(sd, s[0].reshape(-1, hd), v(b + "attn.q_norm.g"), v(b + "attn.q_norm.b"), hd, EPS), l, h, hd);
            SDVariable k = heads(LayerNorm.affine(sd, s[1].reshape(-1, hd), v(b + "attn.k_norm.g"), v(b + "attn.k_norm.b"), hd, EPS), l, h, hd);
            SDVariable vv = heads(s[2], l, h, hd);
            SDVariable att = sd.nn().softmax(sd.mmul(q, k, false, true, false).mul(scale).add(mask), 3);
            SDVariable o = sd.mmul(att, vv).permute(0, 2, 1, 3).reshape(-1, d); // [N * L, D]
            o = linear(o, b + "attn.proj").reshape(-1, l, d);
            x = x.add(m[2].mul(o));
            SDVariable f = modulate(norm(x, l, d), m[3], m[4]).reshape(-1, d);
            f = linear(Gelu.apply(sd, linear(f, b + "mlp.fc1", ones)), b + "mlp.fc2").reshape(-1, l, d);
            x = x.add(m[5].mul(f));
        }
        // drop the start position: outputs 1..L-1 predict the T tokens
        SDVariable xo = x.get(SDIndex.all(), SDIndex.interval(1, l), SDIndex.all());
        SDVariable co = cfg.stepEmbedding()
                ? cs.reshape(-1, l, d).get(SDIndex.all(), SDIndex.interval(1, l), SDIndex.all()).reshape(-1, d)
                : cs;
        int lf = cfg.stepEmbedding() ? t : 1;
        SDVariable[] fm = sd.split(linear(co, "final.ada").reshape(-1, lf, 2 * d), 2, 2); // scale, shift (RAR's order)
        SDVariable hf = modulate(norm(xo, t, d), fm[1], fm[0]).reshape(-1, d);
        SDVariable logits2 = linear(hf, "head"); // [N * T, V]
        logits2.reshape(-1, t, cfg.codebookSize()).rename(LOGITS);
        SDVariable lab = labels.reshape(-1);
        // mean token cross-entropy written out, with a max-shifted log-softmax: in SameDiff M2.1 the gradient of the
        // sparseSoftmaxCrossEntropy op is the SUM over rows (N x T times the mean's; RarModelTest
        // .lossGradientIsTheMeanOverTokens) and logSoftmax along a dimension fails in backprop
        SDVariable shifted = logits2.sub(new StopGradient(sd, sd.max(logits2, true, 1)).outputVariable());
        SDVariable logp = shifted.sub(sd.math().log(sd.sum(sd.math().exp(shifted), true, 1)));
        sd.sum(logp.mul(sd.oneHot(lab, cfg.codebookSize(), -1, 1.0, 0.0, DataType.FLOAT)), 1).mean().neg().rename(LOSS);
        sd.eq(sd.argmax(logits2, 1).castTo(DataType.INT), lab).castTo(DataType.FLOAT).mean().rename(ACC);
        sd.setLossVariables(LOSS);
    }

    /** Layer norm without gain or bias over the last axis of [N, len, D] (adaLN's), as [N, len, D]. */
    private SDVariable norm(SDVariable x, int len, int d) {
        return LayerNorm.normalize(sd, x.reshape(-1, d), d, EPS).reshape(-1, len, d);
    }

    private SDVariable linear(SDVariable in2d, String prefix) {
        return sd.mmul(in2d, v(prefix + ".w")).add(v(prefix + ".b"));
    }

    private SDVariable linear(SDVariable in2d, String prefix, SDVariable onesCol) {
        return sd.mmul(in2d, v(prefix + ".w")).add(onesCol.mmul(v(prefix + ".b").reshape(1, -1)));
    }

    private static SDVariable modulate(SDVariable x, SDVariable shift, SDVariable scale) {
        return x.mul(scale.add(1.0)).add(shift);
    }

    /** [N * L, D] -> [N, H, L, hd]. */
    private static SDVariable heads(SDVariable x, int l, int h, int hd) {
        return x.reshape(-1, l, h, hd).permute(0, 2, 1, 3);
    }

    public RarConfig config() {
        return cfg;
    }

    public SameDiff sameDiff() {
        return sd;
    }

    /** Parameter names, in {@link RarConfig#parameterShapes()} order. */
    public List<String> paramNames() {
        return paramNames;
    }

    /** The live parameter arrays of the graph (not copies). */
    public LinkedHashMap<String, INDArray> params() {
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
        for (String n : paramNames) p.put(n, v(n).getArr());
        return p;
    }

    /** Copies {@code params} into the graph's arrays (no graph rebuild). */
    public void load(Map<String, INDArray> params) {
        for (String n : paramNames) {
            INDArray src = params.get(n);
            if (src == null) throw new IllegalArgumentException("generator parameter " + n + " missing");
            v(n).getArr().assign(src);
        }
    }

    /** Full forward: logits [N, T, V] in the inputs' order (position j predicts the token of order[j]). */
    public INDArray logits(RarInputs in) {
        return sd.output(in.placeholders(cfg, false), LOGITS).get(LOGITS);
    }

    /** Loss, accuracy and the gradient of the loss for every parameter. */
    public OutAndGrad lossAndGradients(RarInputs in) {
        return Backprop.run(sd, in.placeholders(cfg, true), List.of(LOSS, ACC), paramNames);
    }

    /** Hands a {@link #lossAndGradients} result back to the graph's array cache once it has been read. */
    public void recycle(OutAndGrad r) {
        Backprop.recycle(sd, r);
    }
}
