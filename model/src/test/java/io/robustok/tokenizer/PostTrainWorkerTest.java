package io.robustok.tokenizer;

import io.robustok.train.StepContext;
import io.robustok.train.TrainState;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Decoder post-training (SPEC section 6): the state holds the decoder and a fresh discriminator only, starts at the
 * trained decoder, learns to reconstruct the images from their token ids with the GAN on from step 0, and the merged
 * tokenizer keeps every non-decoder tensor bitwise.
 */
class PostTrainWorkerTest {
    private static final int BATCH = 8;

    static PostTrainConfig config(int batch) {
        return new PostTrainConfig(batch, 5e-3, 0.9, 0.95, 1e-8, 0.0, 2e-3, 5e-4, 11);
    }

    @Test
    void trainsTheDecoderOnlyFromTheTokenizersWeights() {
        TokenizerConfig c = TestConfigs.tiny(BATCH);
        Map<String, INDArray> tok = new TokenizerTask<Object>(c, 0, null).init().params();
        PostTrainTask<Object> task = new PostTrainTask<>(c, config(BATCH), tok, 0, null);
        TrainState init = task.init();
        for (String k : init.params().keySet()) {
            assertTrue(k.startsWith("decoder/") || k.startsWith("disc/"), "only decoder and discriminator are trained: " + k);
        }
        assertTrue(init.params().containsKey("decoder/proj_in.w"),
                "the decoder's input projection is trained");
        for (String k : init.params().keySet()) {
            if (k.startsWith("decoder/")) assertEquals(tok.get(k), init.params().get(k), "starts at the trained decoder: " + k);
        }

        PostTrainWorker w = task.newWorker();
        w.load(init);
        INDArray x = TokenizerTrainingTest.images(BATCH, c.imageSize(), 5);
        INDArray ids = new Tokenizer(c, tok, 1, 64).encode(x);
        PairBatch b = new PairBatch(ids, x);
        double first = 0, last = 0;
        int steps = 40;
        for (int s = 0; s < steps; s++) {
            double[] m = w.step(b, new StepContext(s, 0, s / 100.0, 1.0, 100 + s));
            assertEquals(PostTrainWorker.METRICS.size(), m.length);
            assertTrue(Double.isFinite(m[0]), "finite loss at step " + s);
            assertTrue(m[4] > 0, "GAN on from step 0: adaptive weight " + m[4]);
            if (s < 3) first += m[1] / 3;
            if (s >= steps - 3) last += m[1] / 3;
        }
        assertTrue(last < 0.9 * first, "reconstruction loss should fall: first " + first + " last " + last);

        Map<String, INDArray> merged = PostTrainTask.merge(tok, w.state().params());
        assertEquals(tok.keySet(), merged.keySet());
        boolean decoderMoved = false;
        for (String k : tok.keySet()) {
            if (k.startsWith("decoder/")) {
                decoderMoved |= !tok.get(k).equals(merged.get(k));
            } else {
                assertTrue(tok.get(k) == merged.get(k) || tok.get(k).equals(merged.get(k)), "unchanged: " + k);
            }
        }
        assertTrue(decoderMoved, "the decoder is trained");
        assertFalse(init.optState().get(PostTrainWorker.ADAPTIVE).getDouble(0) >= 0, "adaptive weight unmeasured at step 0");
        assertNotEquals(-1.0, w.state().optState().get(PostTrainWorker.ADAPTIVE).getDouble(0), "the measured weight is in the state");
    }

    @Test
    void stepIsAFunctionOfStateAndSeed() {
        TokenizerConfig c = TestConfigs.tiny(BATCH);
        Map<String, INDArray> tok = new TokenizerTask<Object>(c, 0, null).init().params();
        PostTrainTask<Object> task = new PostTrainTask<>(c, config(BATCH), tok, 0, null);
        INDArray x = TokenizerTrainingTest.images(BATCH, c.imageSize(), 6);
        PairBatch b = new PairBatch(Nd4j.createFromArray(new int[BATCH][c.tokens()]).castTo(DataType.INT), x);
        PostTrainWorker a = task.newWorker(), other = task.newWorker();
        a.load(task.init());
        for (int s = 0; s < 3; s++) a.step(b, new StepContext(s, 0, 0, 1.0, s));
        TrainState mid = a.state().copy();
        a.step(b, new StepContext(3, 0, 0, 1.0, 3));
        // a worker that has seen other batches, loaded with the same state, takes exactly the same step
        other.load(task.init());
        other.step(b, new StepContext(0, 0, 0, 1.0, 77));
        other.load(mid);
        other.step(b, new StepContext(3, 0, 0, 1.0, 3));
        for (String k : mid.params().keySet()) assertEquals(a.state().params().get(k), other.state().params().get(k), k);
        for (String k : mid.optState().keySet()) assertEquals(a.state().optState().get(k), other.state().optState().get(k), k);
    }
}
