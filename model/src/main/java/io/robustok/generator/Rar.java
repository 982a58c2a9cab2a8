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

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
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
    /**
     * Placeholders: the input embeddings [N, L, D] (token + position + target-aware rows, summed) and the condition
     * embeddings [N, 1, D], both gathered in Java from the graph's tables ({@link #placeholders}), and the labels
     * [N, T] ({@link RarInputs}).
     */
    public static final String EMB_X = "emb_x", EMB_C = "emb_c", LABELS = "labels";
    /** The embedding tables the Java lookup reads; their gradients are scattered in Java ({@link #lossAndGradients}). */
    static final List<String> TABLES = List.of("tok_emb", "pos_emb", "target_pos_emb");
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
    /** Gradients of {@link #TABLES}, overwritten by each {@link #lossAndGradients}. */
    private LinkedHashMap<String, INDArray> tableGrads;
    private OutAndGrad lastResult, lastRaw;

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
        // The lookups (token, position, target-aware, condition) happen in Java (placeholders), their gradients are
        // scattered into the tables in Java (lossAndGradients). Not in the graph: in ND4J 1.0.0-M2.1 gather's gradient
        // is a SameDiff while-loop over the indices (minutes per step) and two gathers in one graph fail ("Unable to
        // replace samediff namespace"); a one-hot matmul into the stacked tables worked but cost ~9 ms of a ~170 ms
        // demo step and left a [N (3L + 1), rows] gradient of the one-hot (7.4 MB) as fresh memory every step.
        SDVariable x = sd.placeHolder(EMB_X, DataType.FLOAT, -1, l, d);
        SDVariable c = sd.placeHolder(EMB_C, DataType.FLOAT, -1, 1, d); // [N, 1, D]
        SDVariable labels = sd.placeHolder(LABELS, DataType.INT, -1, t);
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
        SDVariable onesC = cfg.stepEmbedding() ? ones : LayerNorm.onesColumn(sd, cs);
        for (int i = 0; i < cfg.depth(); i++) {
            String b = "blocks." + i + ".";
            SDVariable mod = linear(cs, b + "ada", onesC).reshape(-1, lc, 6 * d);
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
            o = linear(o, b + "attn.proj", ones).reshape(-1, l, d);
            x = x.add(m[2].mul(o));
            SDVariable f = modulate(norm(x, l, d), m[3], m[4]).reshape(-1, d);
            f = linear(Gelu.apply(sd, linear(f, b + "mlp.fc1", ones)), b + "mlp.fc2", ones).reshape(-1, l, d);
            x = x.add(m[5].mul(f));
        }
        // drop the start position: outputs 1..L-1 predict the T tokens
        SDVariable xo = x.get(SDIndex.all(), SDIndex.interval(1, l), SDIndex.all());
        SDVariable co = cfg.stepEmbedding()
                ? cs.reshape(-1, l, d).get(SDIndex.all(), SDIndex.interval(1, l), SDIndex.all()).reshape(-1, d)
                : cs;
        int lf = cfg.stepEmbedding() ? t : 1;
        SDVariable onesT = LayerNorm.onesColumn(sd, co);
        SDVariable[] fm = sd.split(linear(co, "final.ada", onesT).reshape(-1, lf, 2 * d), 2, 2); // scale, shift (RAR's order)
        SDVariable hf = modulate(norm(xo, t, d), fm[1], fm[0]).reshape(-1, d);
        SDVariable logits2 = linear(hf, "head", cfg.stepEmbedding() ? onesT : LayerNorm.onesColumn(sd, hf)); // [N * T, V]
        logits2.reshape(-1, t, cfg.codebookSize()).rename(LOGITS);
        SDVariable lab = labels.reshape(-1);
        // mean token cross-entropy written out, with a max-shifted log-softmax: in SameDiff M2.1 the gradient of the
        // sparseSoftmaxCrossEntropy op is the SUM over rows (N x T times the mean's; RarModelTest
        // .lossGradientIsTheMeanOverTokens) and logSoftmax along a dimension fails in backprop
        SDVariable logp = sd.nn().logSoftmax(logits2);
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
        return sd.output(placeholders(in, false), LOGITS).get(LOGITS);
    }

    /**
     * The graph's placeholders for {@code in}: {@link #EMB_X} [N, L, D] = tok_emb[ids] + pos_emb[pos] +
     * target_pos_emb[target - 1] (nothing for target row 0, the start position), {@link #EMB_C} [N, 1, D] =
     * tok_emb[cond], and the labels. The embedding arrays are new on every call (the caller may keep them).
     */
    Map<String, INDArray> placeholders(RarInputs in, boolean withLabels) {
        int n = (int) in.ids().size(0), l = cfg.seqLen(), d = cfg.width(), rows = cfg.embeddingRows(), tgtRows = cfg.tokens();
        int[] id = in.ids().reshape(-1).toIntVector(), po = in.pos().reshape(-1).toIntVector();
        int[] tg = in.target().reshape(-1).toIntVector(), co = in.cond().reshape(-1).toIntVector();
        if (id.length != n * l || po.length != n * l || tg.length != n * l || co.length != n)
            throw new IllegalArgumentException("generator inputs of " + n + " sequences do not have " + l + " positions each");
        FloatBuffer tok = floats(v("tok_emb").getArr()), pos = floats(v("pos_emb").getArr()), tgt = floats(v("target_pos_emb").getArr());
        float[] x = new float[n * l * d], c = new float[n * d];
        for (int r = 0; r < n * l; r++) {
            int a = check(id[r], rows, "token/condition") * d, b = check(po[r], cfg.tokens() + 2, "position") * d;
            int g = check(tg[r], tgtRows + 1, "target position") - 1, o = r * d;
            for (int k = 0; k < d; k++) x[o + k] = tok.get(a + k) + pos.get(b + k);
            // the graph used to add a zero row for the start position: + 0 changes no float, so it is skipped
            if (g >= 0) for (int k = 0, q = g * d; k < d; k++) x[o + k] += tgt.get(q + k);
        }
        for (int i = 0; i < n; i++) {
            int a = check(co[i], rows, "condition") * d;
            for (int k = 0; k < d; k++) c[i * d + k] = tok.get(a + k);
        }
        Map<String, INDArray> m = new HashMap<>();
        m.put(EMB_X, Nd4j.create(x, new long[]{n, l, d}, 'c'));
        m.put(EMB_C, Nd4j.create(c, new long[]{n, 1, d}, 'c'));
        if (withLabels) m.put(LABELS, in.labels());
        return m;
    }

    private static int check(int row, int rows, String what) {
        if (row < 0 || row >= rows) throw new IllegalArgumentException(what + " row " + row + " not in [0, " + rows + ")");
        return row;
    }

    private static FloatBuffer floats(INDArray a) {
        if (a.dataType() != DataType.FLOAT || a.isView() || a.ordering() != 'c')
            throw new IllegalStateException("generator table " + a.shapeInfoToString() + " is not a dense float array");
        return a.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /**
     * Loss, accuracy and the gradient of the loss for every parameter. The embedding tables' gradients are the
     * graph's gradients of the two embedding placeholders scattered (added) into the rows that were read; they live in
     * arrays of this graph that the next call overwrites.
     */
    public OutAndGrad lossAndGradients(RarInputs in) {
        List<String> wrt = new ArrayList<>(paramNames.size() + 2);
        for (String p : paramNames) if (!TABLES.contains(p)) wrt.add(p);
        wrt.add(EMB_X);
        wrt.add(EMB_C);
        OutAndGrad raw = Backprop.run(sd, placeholders(in, true), List.of(LOSS, ACC), wrt);
        int n = (int) in.ids().size(0), l = cfg.seqLen(), d = cfg.width();
        if (tableGrads == null) {
            tableGrads = new LinkedHashMap<>();
            for (String tname : TABLES) tableGrads.put(tname, Nd4j.zeros(DataType.FLOAT, cfg.parameterShapes().get(tname)));
        }
        FloatBuffer gTok = floats(tableGrads.get("tok_emb")), gPos = floats(tableGrads.get("pos_emb")), gTgt = floats(tableGrads.get("target_pos_emb"));
        for (INDArray a : tableGrads.values()) a.assign(0);
        float[] gx = dense(raw.getGradients().get(EMB_X), (long) n * l * d), gc = dense(raw.getGradients().get(EMB_C), (long) n * d);
        int[] id = in.ids().reshape(-1).toIntVector(), po = in.pos().reshape(-1).toIntVector(), tg = in.target().reshape(-1).toIntVector();
        int[] co = in.cond().reshape(-1).toIntVector();
        for (int r = 0; r < n * l; r++) {
            int a = id[r] * d, b = po[r] * d, g = tg[r] - 1, o = r * d;
            for (int k = 0; k < d; k++) {
                gTok.put(a + k, gTok.get(a + k) + gx[o + k]);
                gPos.put(b + k, gPos.get(b + k) + gx[o + k]);
            }
            if (g >= 0) for (int k = 0, q = g * d; k < d; k++) gTgt.put(q + k, gTgt.get(q + k) + gx[o + k]);
        }
        for (int i = 0; i < n; i++) {
            int a = co[i] * d;
            for (int k = 0; k < d; k++) gTok.put(a + k, gTok.get(a + k) + gc[i * d + k]);
        }
        Map<String, INDArray> grads = new HashMap<>(raw.getGradients());
        grads.remove(EMB_X);
        grads.remove(EMB_C);
        grads.putAll(tableGrads);
        OutAndGrad r = new OutAndGrad(raw.getOutputs(), grads);
        lastResult = r;
        lastRaw = raw;
        return r;
    }

    private static float[] dense(INDArray g, long length) {
        if (g == null || g.length() != length) throw new IllegalStateException("no gradient of an embedding placeholder: " + g);
        return g.dup('c').data().asFloat();
    }

    /** Hands a {@link #lossAndGradients} result back to the graph's array cache once it has been read. */
    public void recycle(OutAndGrad r) {
        // the tables' gradients are this graph's own arrays: only what the graph returned goes back to its cache
        if (r == lastResult) Backprop.recycle(sd, lastRaw);
        lastResult = null;
        lastRaw = null;
    }
}
