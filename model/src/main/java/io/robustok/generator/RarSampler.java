package io.robustok.generator;

import io.robustok.train.TrainState;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.LayerNorm;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.strict.GELU;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Swish;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Raster-order sampling from a trained {@link Rar} with a KV cache (SPEC section 5), and the teacher-forced mixing
 * of post-training (SPEC section 6).
 *
 * <p>The cached path is a plain-ND4J re-implementation of {@link Rar}'s forward for one position at a time, reading
 * the same named parameters and calling the same libnd4j ops (layer_norm, gelu, swish, softmax), so that it agrees
 * with the SameDiff graph to float rounding (RarSamplerTest). Each step costs O(position) attention instead of a full
 * recomputation of the sequence. Guidance runs the conditional and the null-class rows as one batch. Not thread-safe.
 */
public final class RarSampler {
    private static final Logger LOG = LoggerFactory.getLogger(RarSampler.class);

    private record Block(INDArray adaW, INDArray adaB, INDArray qkvW, INDArray qkvB, INDArray qg, INDArray qb,
                         INDArray kg, INDArray kb, INDArray projW, INDArray projB, INDArray fc1W, INDArray fc1B,
                         INDArray fc2W, INDArray fc2B) {
    }

    /** Hook for tests: the guided logits (before temperature) of step t, [N, V]. */
    interface StepObserver {
        void onStep(int t, INDArray guidedLogits);
    }

    private final RarConfig cfg;
    private final INDArray tokEmb, posEmb, targetEmb, stepEmb, finalW, finalB, headW, headB, ones, zeros;
    private final Block[] blocks;
    private double lastTokensPerSecond;

    /** From parameters named as in {@link RarConfig#parameterShapes()} (copied). */
    public RarSampler(RarConfig cfg, Map<String, INDArray> params) {
        this.cfg = cfg;
        java.util.function.Function<String, INDArray> p = n -> {
            INDArray a = params.get(n);
            if (a == null) throw new IllegalArgumentException("generator parameter " + n + " missing");
            return a.castTo(DataType.FLOAT).dup('c');
        };
        tokEmb = p.apply("tok_emb");
        posEmb = p.apply("pos_emb");
        targetEmb = p.apply("target_pos_emb");
        stepEmb = cfg.stepEmbedding() ? p.apply("step_emb") : null;
        blocks = new Block[cfg.depth()];
        for (int i = 0; i < blocks.length; i++) {
            String b = "blocks." + i + ".";
            blocks[i] = new Block(p.apply(b + "ada.w"), p.apply(b + "ada.b"), p.apply(b + "attn.qkv.w"),
                    p.apply(b + "attn.qkv.b"), p.apply(b + "attn.q_norm.g"), p.apply(b + "attn.q_norm.b"),
                    p.apply(b + "attn.k_norm.g"), p.apply(b + "attn.k_norm.b"), p.apply(b + "attn.proj.w"),
                    p.apply(b + "attn.proj.b"), p.apply(b + "mlp.fc1.w"), p.apply(b + "mlp.fc1.b"),
                    p.apply(b + "mlp.fc2.w"), p.apply(b + "mlp.fc2.b"));
        }
        finalW = p.apply("final.ada.w");
        finalB = p.apply("final.ada.b");
        headW = p.apply("head.w");
        headB = p.apply("head.b");
        ones = Nd4j.ones(DataType.FLOAT, cfg.width());
        zeros = Nd4j.zeros(DataType.FLOAT, cfg.width());
    }

    /**
     * From a training state whose parameters are named {@code prefix + name} (the generator task uses
     * {@link GeneratorTask#PREFIX}); pass the EMA weights for sampling (SPEC section 2: later stages use the EMA).
     */
    public static RarSampler fromState(RarConfig cfg, TrainState state, String prefix) {
        Map<String, INDArray> p = new HashMap<>();
        for (String n : cfg.parameterShapes().keySet()) {
            INDArray a = state.params().get(prefix + n);
            if (a == null) throw new IllegalArgumentException("state has no generator parameter " + prefix + n);
            p.put(n, a);
        }
        return new RarSampler(cfg, p);
    }

    public RarConfig config() {
        return cfg;
    }

    /** Generated tokens per second of the last {@link #sample} or {@link #sampleMixed} call. */
    public double lastTokensPerSecond() {
        return lastTokensPerSecond;
    }

    /**
     * Samples one token sequence per label, in raster order.
     *
     * @param labels class of each sample (the batch: one class per call is the usual gFID layout)
     * @param seed   seeds the multinomial draws; same seed, labels and weights give the same tokens
     * @return [N][T] token ids, raster order
     */
    public int[][] sample(int[] labels, SamplingConfig s, long seed) {
        return run(labels, null, 0, s, shared(labels.length, seed), null, null, null);
    }

    /**
     * Teacher-forced mixing for post-training (SPEC section 6): in raster order, at each position keep the true
     * token with probability {@code sigma} (paper: 0.7), otherwise take the generator's sample (with guidance and
     * temperature); the mixed sequence is the prefix for the later positions.
     *
     * @param truth  [N][T] the images' own tokens
     * @return [N][T] mixed token ids
     */
    public int[][] sampleMixed(int[][] truth, int[] labels, double sigma, SamplingConfig s, long seed) {
        checkMixed(truth, labels, sigma);
        return run(labels, truth, sigma, s, shared(labels.length, seed), shared(labels.length, maskSeed(seed)), null, null);
    }

    /**
     * {@link #sampleMixed(int[][], int[], double, SamplingConfig, long)} with one seed per row: row i's keep mask and
     * multinomial draws come from {@code rowSeeds[i]} alone, so a row's result does not depend on which rows share its
     * batch (up to the float rounding of a batched forward). The keep mask has its own stream: with sigma = 0 a row
     * is exactly {@code sample(new int[]{label}, s, rowSeed)}.
     */
    public Mixed sampleMixed(int[][] truth, int[] labels, double sigma, SamplingConfig s, long[] rowSeeds) {
        checkMixed(truth, labels, sigma);
        if (rowSeeds.length != labels.length) throw new IllegalArgumentException("one seed per token row");
        int n = labels.length;
        SplittableRandom[] draw = new SplittableRandom[n], mask = new SplittableRandom[n];
        for (int i = 0; i < n; i++) {
            draw[i] = new SplittableRandom(rowSeeds[i]);
            mask[i] = new SplittableRandom(maskSeed(rowSeeds[i]));
        }
        boolean[][] kept = new boolean[n][cfg.tokens()];
        int[][] out = run(labels, truth, sigma, s, draw, mask, kept, null);
        return new Mixed(out, kept);
    }

    /**
     * Mixed token rows and where the true token was kept (a sampled token may still equal the true one).
     *
     * @param tokens [N][T] mixed ids
     * @param kept   [N][T] true where the Bernoulli(sigma) draw kept the true token
     */
    public record Mixed(int[][] tokens, boolean[][] kept) {
    }

    private static void checkMixed(int[][] truth, int[] labels, double sigma) {
        if (!(sigma >= 0 && sigma <= 1)) throw new IllegalArgumentException("sigma must be in [0, 1], got " + sigma);
        if (truth.length != labels.length) throw new IllegalArgumentException("one label per token row");
    }

    /** The keep-mask stream's seed: distinct from the draws' stream of the same seed. */
    private static long maskSeed(long seed) {
        long z = seed ^ 0x6A09E667F3BCC909L;
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }

    /** One generator shared by all rows (draws in row order at each step). */
    private static SplittableRandom[] shared(int n, long seed) {
        SplittableRandom[] r = new SplittableRandom[n];
        java.util.Arrays.fill(r, new SplittableRandom(seed));
        return r;
    }

    int[][] sample(int[] labels, SamplingConfig s, long seed, StepObserver obs) {
        return run(labels, null, 0, s, shared(labels.length, seed), null, null, obs);
    }

    int[][] sampleMixed(int[][] truth, int[] labels, double sigma, SamplingConfig s, long seed, StepObserver obs) {
        checkMixed(truth, labels, sigma);
        return run(labels, truth, sigma, s, shared(labels.length, seed), shared(labels.length, maskSeed(seed)), null, obs);
    }

    /**
     * @param draw per row, the multinomial draws' generator (may be one shared object)
     * @param mask per row, the keep draws' generator (null without truth)
     * @param kept filled with the keep draws when not null
     */
    private int[][] run(int[] labels, int[][] truth, double sigma, SamplingConfig s, SplittableRandom[] draw,
                        SplittableRandom[] mask, boolean[][] kept, StepObserver obs) {
        long t0 = System.nanoTime();
        int n = labels.length, t = cfg.tokens(), v = cfg.codebookSize();
        boolean guided = s.guided();
        int b = guided ? 2 * n : n;
        int[] condRows = new int[b];
        for (int i = 0; i < n; i++) {
            condRows[i] = cfg.classRow(labels[i]);
            if (guided) condRows[n + i] = cfg.nullClassRow();
        }
        Session ses = new Session(condRows);
        int[] rows = new int[b];
        java.util.Arrays.fill(rows, cfg.startRow());
        ses.advance(rows);
        INDArray logits = ses.advance(condRows);
        int[][] out = new int[n][t];
        double[] prob = new double[v];
        for (int step = 0; step < t; step++) {
            INDArray g = guided ? guide(logits, n, s.scaleAt(step, t)) : logits;
            if (obs != null) obs.onStep(step, g);
            float[][] lg = null;
            for (int i = 0; i < n; i++) {
                // the keep draw is made at every position, so the mask does not depend on the model's outputs
                boolean keep = truth != null && mask[i].nextDouble() < sigma;
                if (kept != null) kept[i][step] = keep;
                if (keep) {
                    out[i][step] = truth[i][step];
                    continue;
                }
                if (lg == null) lg = g.toFloatMatrix();
                out[i][step] = draw(lg[i], s.temperature(), prob, draw[i]);
            }
            if (step + 1 < t) {
                for (int i = 0; i < n; i++) {
                    rows[i] = out[i][step];
                    if (guided) rows[n + i] = out[i][step];
                }
                logits = ses.advance(rows);
            }
        }
        double sec = (System.nanoTime() - t0) / 1e9;
        lastTokensPerSecond = n * (double) t / sec;
        LOG.debug("sampled {} x {} tokens in {} s ({} tokens/s, guidance {})", n, t, String.format("%.3f", sec),
                String.format("%.0f", lastTokensPerSecond), guided);
        return out;
    }

    /** u + s (c - u) for cond rows [0, n) and null-class rows [n, 2n). */
    static INDArray guide(INDArray logits, int n, double scale) {
        INDArray c = logits.get(NDArrayIndex.interval(0, n), NDArrayIndex.all());
        INDArray u = logits.get(NDArrayIndex.interval(n, 2 * n), NDArrayIndex.all());
        return c.sub(u).muli(scale).addi(u);
    }

    /** Multinomial draw from softmax(logits / temperature), in double. */
    static int draw(float[] logits, double temperature, double[] prob, SplittableRandom rng) {
        double max = Double.NEGATIVE_INFINITY;
        for (float f : logits) max = Math.max(max, f / temperature);
        double sum = 0;
        for (int j = 0; j < logits.length; j++) {
            prob[j] = Math.exp(logits[j] / temperature - max);
            sum += prob[j];
        }
        double u = rng.nextDouble() * sum, acc = 0;
        for (int j = 0; j < logits.length; j++) {
            acc += prob[j];
            if (u < acc) return j;
        }
        return logits.length - 1;
    }

    /**
     * Teacher-forced logits of every step through the KV cache, [N, T, V] (raster order): what
     * {@link Rar#logits} gives for the same tokens, computed one position at a time.
     */
    public INDArray cachedLogits(int[][] tokens, int[] condRows) {
        int n = tokens.length, t = cfg.tokens();
        Session ses = new Session(condRows);
        int[] rows = new int[n];
        java.util.Arrays.fill(rows, cfg.startRow());
        ses.advance(rows);
        INDArray out = Nd4j.create(DataType.FLOAT, n, t, cfg.codebookSize());
        INDArray logits = ses.advance(condRows);
        for (int step = 0; step < t; step++) {
            out.get(NDArrayIndex.all(), NDArrayIndex.point(step), NDArrayIndex.all()).assign(logits);
            if (step + 1 < t) {
                for (int i = 0; i < n; i++) rows[i] = tokens[i][step];
                logits = ses.advance(rows);
            }
        }
        return out;
    }

    private INDArray layerNorm(INDArray x, INDArray gain, INDArray bias, int dim) {
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, x.shape());
        Nd4j.exec(new LayerNorm(x, gain, bias, out, false, dim));
        return out;
    }

    private static INDArray linear(INDArray x, INDArray w, INDArray b) {
        return x.mmul(w).addiRowVector(b);
    }

    private static INDArray cols(INDArray x, int from, int to) {
        return x.get(NDArrayIndex.all(), NDArrayIndex.interval(from, to));
    }

    /** One decoding pass over B rows: the KV cache of every block and the current position. */
    private final class Session {
        final int b, d = cfg.width(), h = cfg.heads(), hd = cfg.headDim();
        final INDArray[] kc, vc; // [B, H, L, hd]
        final INDArray cond; // [B, D] embedding of each row's condition
        final double scale = 1.0 / Math.sqrt(cfg.headDim());
        int p;

        Session(int[] condRows) {
            b = condRows.length;
            kc = new INDArray[cfg.depth()];
            vc = new INDArray[cfg.depth()];
            for (int i = 0; i < kc.length; i++) {
                kc[i] = Nd4j.zeros(DataType.FLOAT, b, h, cfg.seqLen(), hd);
                vc[i] = Nd4j.zeros(DataType.FLOAT, b, h, cfg.seqLen(), hd);
            }
            cond = tokEmb.getRows(condRows);
        }

        /**
         * Feeds the input of position p (embedding row per batch row) and returns the logits it predicts
         * ([B, V]; null at p = 0, the start position, whose output is unused).
         */
        INDArray advance(int[] inputRows) {
            if (p >= cfg.seqLen()) throw new IllegalStateException("sequence is full");
            INDArray x = tokEmb.getRows(inputRows).addiRowVector(posEmb.getRow(p));
            if (p >= 1) x.addiRowVector(targetEmb.getRow(p - 1)); // raster: position p targets image position p - 1
            INDArray c = stepEmb == null ? cond.dup() : cond.addRowVector(stepEmb.getRow(p));
            INDArray cs = Nd4j.createUninitialized(DataType.FLOAT, c.shape());
            Nd4j.exec(new Swish(c, cs)); // SiLU
            INDArrayIndex[] upto = {NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(0, p + 1), NDArrayIndex.all()};
            INDArrayIndex[] at = {NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(p), NDArrayIndex.all()};
            for (int i = 0; i < blocks.length; i++) {
                Block k = blocks[i];
                INDArray mod = linear(cs, k.adaW(), k.adaB());
                INDArray a = layerNorm(x, ones, zeros, 1).muli(cols(mod, d, 2 * d).add(1.0)).addi(cols(mod, 0, d));
                INDArray qkv = linear(a, k.qkvW(), k.qkvB());
                INDArray q = layerNorm(cols(qkv, 0, d).dup().reshape(b, h, hd), k.qg(), k.qb(), 2);
                INDArray kk = layerNorm(cols(qkv, d, 2 * d).dup().reshape(b, h, hd), k.kg(), k.kb(), 2);
                kc[i].get(at).assign(kk);
                vc[i].get(at).assign(cols(qkv, 2 * d, 3 * d).dup().reshape(b, h, hd));
                INDArray keys = kc[i].get(upto), vals = vc[i].get(upto); // [B, H, p+1, hd]
                INDArray att = Nd4j.matmul(q.reshape(b, h, 1, hd), keys, false, true, false).muli(scale);
                Nd4j.exec(new SoftMax(att, att, 3));
                INDArray o = Nd4j.matmul(att, vals).reshape(b, d);
                x.addi(linear(o, k.projW(), k.projB()).muli(cols(mod, 2 * d, 3 * d)));
                INDArray f = layerNorm(x, ones, zeros, 1).muli(cols(mod, 4 * d, 5 * d).add(1.0)).addi(cols(mod, 3 * d, 4 * d));
                f = linear(f, k.fc1W(), k.fc1B());
                Nd4j.exec(new GELU(f, f));
                x.addi(linear(f, k.fc2W(), k.fc2B()).muli(cols(mod, 5 * d, 6 * d)));
            }
            INDArray logits = null;
            if (p >= 1) {
                INDArray fm = linear(cs, finalW, finalB); // scale, shift (RAR's order)
                INDArray hf = layerNorm(x, ones, zeros, 1).muli(cols(fm, 0, d).add(1.0)).addi(cols(fm, d, 2 * d));
                logits = linear(hf, headW, headB);
            }
            p++;
            return logits;
        }
    }
}
