package io.robustok.tokenizer;

import io.robustok.train.StepContext;
import io.robustok.train.TrainState;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A tiny tokenizer learns on synthetic images; GAN steps run; encode/decode never perturb. */
class TokenizerTrainingTest {
    private static final int BATCH = 8;

    /** Smooth synthetic images: per-image random colour gradients, in [-1, 1]. */
    static INDArray images(int n, int size, long seed) {
        java.util.Random r = new java.util.Random(seed);
        float[] v = new float[n * 3 * size * size];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < 3; c++) {
                double a = r.nextDouble() * 2 - 1, bx = r.nextDouble() * 2 - 1, by = r.nextDouble() * 2 - 1;
                for (int y = 0; y < size; y++) {
                    for (int x = 0; x < size; x++) {
                        double val = 0.5 * a + 0.5 * (bx * (x / (size - 1.0) - 0.5) + by * (y / (size - 1.0) - 0.5));
                        v[((i * 3 + c) * size + y) * size + x] = (float) Math.max(-1, Math.min(1, val));
                    }
                }
            }
        }
        return Nd4j.create(v, new long[]{n, 3, size, size}, DataType.FLOAT);
    }

    @Test
    void lossGoesDownThenGanStepsRunAndStateRoundTrips() {
        TokenizerConfig c = TestConfigs.tiny(BATCH).withGan(3, 2e-3, LatentPerturbation.Schedule.paper());
        TokenizerWorker w = new TokenizerWorker(c, 1.0);
        INDArray x = images(BATCH, c.imageSize(), 5);
        ImageBatch b = new ImageBatch(x, null);
        double first = 0, last = 0, firstRec = 0, lastRec = 0;
        int steps = 40;
        for (int s = 0; s < steps; s++) {
            double[] m = w.step(b, new StepContext(s, 0, s / 100.0, 1.0, 100 + s));
            assertEquals(TokenizerWorker.METRICS.size(), m.length);
            assertTrue(Double.isFinite(m[0]), "finite loss at step " + s);
            System.out.printf("STEP %d loss %.4f rec %.4f cb %.4f commit %.4f perturbed %.3f grad %.3f%n", s, m[0], m[1], m[2], m[3], m[11], m[14]);
            if (s < 3) {
                first += m[0] / 3;
                firstRec += m[1] / 3;
            }
            if (s >= steps - 3) {
                last += m[0] / 3;
                lastRec += m[1] / 3;
            }
        }
        assertTrue(last < 0.7 * first, "total loss should fall: first " + first + " last " + last);
        assertTrue(lastRec < firstRec, "rec loss should fall: first " + firstRec + " last " + lastRec);

        // past gan-start-epoch: generator with GAN term + discriminator step
        double[] m = w.step(b, new StepContext(steps, 3, 3.0, 1.0, 7));
        assertTrue(Double.isFinite(m[0]));
        assertTrue(m[6] > 0, "discriminator hinge loss reported");
        assertTrue(m[7] > 0 && m[7] <= c.adaptiveMax(), "adaptive weight in (0, max]: " + m[7]);

        // state names: tokenizer + discriminator parameters and AdamW moments
        TrainState st = w.state();
        assertTrue(st.params().containsKey("encoder/blocks.0.attn.qkv.w"));
        assertTrue(st.params().containsKey("disc/conv0.w"));
        assertTrue(st.optState().containsKey("quantizer/codebook#m"));
        assertTrue(st.optState().containsKey("disc#t"));
        TokenizerWorker w2 = new TokenizerWorker(c, 1.0);
        w2.load(st.copy());
        assertEquals(st.params().get("decoder/head.w"), w2.state().params().get("decoder/head.w"));
    }

    /**
     * The GAN state that is not a parameter (adaptive weight, LeCAM's EMAs) travels in the optimizer state: a worker
     * that ran other steps before computes exactly what a fresh one computes from the same state, which is what lets a
     * round give the same result whichever executor runs a partition, and a resumed run continue exactly.
     */
    @Test
    void ganStateTravelsWithTheStateSoEveryWorkerComputesTheSameStep() {
        TokenizerConfig c = TestConfigs.tiny(BATCH).withGan(0, 2e-3, LatentPerturbation.Schedule.paper());
        ImageBatch b = new ImageBatch(images(BATCH, c.imageSize(), 5), null);
        TokenizerWorker a = new TokenizerWorker(c, 1.0);
        TrainState initial = a.state().copy();
        assertEquals(-1.0, initial.optState().get(TokenizerWorker.ADAPTIVE).getDouble(0), "not measured before the GAN");
        for (int s = 0; s < 3; s++) a.step(b, new StepContext(s, 0, 0.1 + s / 100.0, 1.0, 40 + s));
        TrainState mid = a.state().copy();
        double w = mid.optState().get(TokenizerWorker.ADAPTIVE).getDouble(0);
        assertTrue(w > 0 && w <= c.adaptiveMax(), "adaptive weight measured and kept: " + w);
        assertNotEquals(0.0, mid.optState().get(TokenizerWorker.LECAM_REAL).getDouble(0), "LeCAM EMA of real logits moved");
        assertNotEquals(0.0, mid.optState().get(TokenizerWorker.LECAM_FAKE).getDouble(0), "LeCAM EMA of fake logits moved");

        // worker "b" has its own history (other images, other steps), then both load the same state and step once
        TokenizerWorker other = new TokenizerWorker(c, 1.0);
        other.load(initial.copy());
        ImageBatch elsewhere = new ImageBatch(images(BATCH, c.imageSize(), 99), null);
        for (int s = 0; s < 2; s++) other.step(elsewhere, new StepContext(s, 0, 0.5, 1.0, 900 + s));
        StepContext next = new StepContext(3, 0, 0.13, 1.0, 43);
        a.load(mid.copy());
        double[] ma = a.step(b, next);
        other.load(mid.copy());
        double[] mb = other.step(b, next);
        // every metric but "usage", the running codebook usage of the epoch on this worker (a curve, not state)
        int usage = TokenizerWorker.METRICS.indexOf("usage");
        ma[usage] = mb[usage] = 0;
        assertArrayEquals(ma, mb, "same metrics, adaptive weight included");
        TrainState sa = a.state(), sb = other.state();
        for (String k : sa.params().keySet()) assertEquals(sa.params().get(k), sb.params().get(k), k);
        for (String k : sa.optState().keySet()) assertEquals(sa.optState().get(k), sb.optState().get(k), k);
    }

    @Test
    void encodeAndDecodeAreDeterministicAndUnperturbed() {
        TokenizerConfig c = TestConfigs.tiny(BATCH);
        TokenizerWorker w = new TokenizerWorker(c, 0);
        Tokenizer tok = new Tokenizer(c, w.state().params(), 8, 3);
        INDArray x = images(5, c.imageSize(), 9);
        INDArray ids = tok.encode(x);
        assertArrayEquals(new long[]{5, c.tokens()}, ids.shape());
        assertEquals(ids, tok.encode(x), "encode is deterministic (no perturbation)");
        INDArray y = tok.decode(ids);
        assertArrayEquals(new long[]{5, 3, c.imageSize(), c.imageSize()}, y.shape());
        assertEquals(y, tok.decode(ids), "decode is deterministic");
        // decodePerturbed with alpha 0 is the clean decode; with alpha 1 it differs
        assertTrue(tok.decodePerturbed(x, 0.0, 8, 1).equalsWithEps(y, 1e-5));
        assertFalse(tok.decodePerturbed(x, 1.0, 8, 1).equalsWithEps(y, 1e-5));
    }

    /**
     * Codes drawn from the untrained encoder's outputs: each code then equals (up to the small noise) the output of
     * one latent token, so that token encodes to it, and the images use many more codes than with random codes.
     */
    @Test
    void dataDependentCodebookInitPutsCodesInUse() {
        TokenizerConfig c = TestConfigs.tiny(BATCH);
        INDArray x = images(16, c.imageSize(), 21); // 16 images x 16 tokens = 256 rows for 64 codes
        TokenizerWorker random = new TokenizerWorker(c, 0);
        CodeUsage before = new CodeUsage(c.codebookSize());
        before.add(new Tokenizer(c, random.state().params(), 8, 16).encode(x).reshape(-1).toIntVector());

        TokenizerWorker w = new TokenizerWorker(c, 0);
        w.initCodebookFromData(x, 5);
        CodeUsage after = new CodeUsage(c.codebookSize());
        after.add(new Tokenizer(c, w.state().params(), 8, 16).encode(x).reshape(-1).toIntVector());
        assertTrue(after.usedFraction() >= 2 * before.usedFraction() && after.usedFraction() > 0.5,
                "usage random " + before.usedFraction() + ", data init " + after.usedFraction());
        // every other parameter is untouched
        assertEquals(random.state().params().get("encoder/proj.w"), w.state().params().get("encoder/proj.w"));
        assertFalse(random.state().params().get("quantizer/codebook").equalsWithEps(w.state().params().get("quantizer/codebook"), 1e-3));
    }

    /**
     * Head init from data: the bias is the mean pixel patch of the images; with zero weights every decode is the mean
     * patch tiled over the image, whatever the tokens.
     */
    @Test
    void headInitFromDataDecodesTheMeanPatch() {
        TokenizerConfig c = TestConfigs.tiny(BATCH);
        INDArray x = images(16, c.imageSize(), 23);
        int p = c.patch(), g = c.imageSize() / p;
        float[] mean = new float[3 * p * p];
        for (int n = 0; n < 16; n++) {
            for (int ch = 0; ch < 3; ch++) {
                for (int y = 0; y < c.imageSize(); y++) {
                    for (int xx = 0; xx < c.imageSize(); xx++) {
                        mean[(ch * p + y % p) * p + xx % p] += x.getFloat(n, ch, y, xx) / (16f * g * g);
                    }
                }
            }
        }
        TokenizerWorker w = new TokenizerWorker(c, 0);
        INDArray w0 = w.state().params().get("decoder/head.w").dup();
        w.initHeadFromData(x, false);
        assertTrue(Nd4j.create(mean).equalsWithEps(w.state().params().get("decoder/head.b"), 1e-5));
        assertEquals(w0, w.state().params().get("decoder/head.w"), "mean: weights untouched");

        w.initHeadFromData(x, true);
        INDArray y = new Tokenizer(c, w.state().params(), 8, 16).decode(Nd4j.create(new int[][]{{0, 5, 9, 63, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}));
        for (int ch = 0; ch < 3; ch++) {
            for (int yy = 0; yy < c.imageSize(); yy++) {
                for (int xx = 0; xx < c.imageSize(); xx++) {
                    assertEquals(mean[(ch * p + yy % p) * p + xx % p], y.getFloat(0, ch, yy, xx), 1e-5);
                }
            }
        }
    }
}
