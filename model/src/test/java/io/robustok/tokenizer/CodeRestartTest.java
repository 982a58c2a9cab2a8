package io.robustok.tokenizer;

import io.robustok.train.StepContext;
import io.robustok.train.TrainState;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** tokenizer.restart-dead-every: which codes restart, at what, and that a step still depends only on the loaded state. */
class CodeRestartTest {
    @Test
    void offByDefaultLeavesTheStateAsItWas() {
        TokenizerWorker w = new TokenizerWorker(TestConfigs.tiny(2), 0);
        assertFalse(w.state().optState().containsKey(TokenizerWorker.CODE_USE));
        assertEquals(0, TestConfigs.defaults().restartDeadEvery());
    }

    @Test
    void deadCodesRestartAtDistinctEncoderOutputsWithZeroMoments() {
        TokenizerConfig c = TestConfigs.tiny(2).withRestartDeadEvery(10);
        TokenizerWorker w = new TokenizerWorker(c, 0);
        Map<String, INDArray> opt = w.state().optState();
        INDArray use = opt.get(TokenizerWorker.CODE_USE);
        int k = c.codebookSize();
        use.putScalar(3, 0f);
        use.putScalar(7, 0f);
        use.putScalar(9, 0.005f); // decays to 0.0045: alive
        use.putScalar(11, 0.001f); // decays to 0.0009: dead
        INDArray cb = w.state().params().get("quantizer/codebook");
        INDArray before = cb.dup();
        opt.get("quantizer/codebook#m").assign(0.5);
        opt.get("quantizer/codebook#v").assign(0.25);
        int rows = 16;
        int[] ids = new int[rows];
        ids[0] = 7; // chosen once this step: 0.1 x 64 / 16 = 0.4, alive
        for (int i = 1; i < rows; i++) ids[i] = 20;
        INDArray encoded = Nd4j.rand(DataType.FLOAT, rows, c.codeDim()).subi(0.5);
        encoded.diviColumnVector(encoded.norm2(1).reshape(rows, 1));

        assertEquals(2, w.updateUseAndRestart(ids, encoded, 42));

        Set<Integer> rowsUsed = new HashSet<>();
        for (int code : new int[]{3, 11}) {
            int match = -1;
            for (int r = 0; r < rows; r++) if (cb.getRow(code).equalsWithEps(encoded.getRow(r), 1e-6)) match = r;
            assertTrue(match >= 0, "code " + code + " is not one of the step's encoder outputs");
            assertTrue(rowsUsed.add(match), "two codes restarted at the same encoder output");
            assertEquals(0, opt.get("quantizer/codebook#m").getRow(code).sumNumber().doubleValue(), 0);
            assertEquals(0, opt.get("quantizer/codebook#v").getRow(code).sumNumber().doubleValue(), 0);
            assertEquals(1f, use.getFloat(code), 0);
        }
        for (int code = 0; code < k; code++) {
            if (code == 3 || code == 11) continue;
            assertEquals(before.getRow(code), cb.getRow(code), "code " + code + " changed");
            assertEquals(0.5, opt.get("quantizer/codebook#m").getDouble(code, 0), 0);
        }
        assertEquals(0.4f, use.getFloat(7), 1e-6);
        assertEquals(0.9f * 0.005f, use.getFloat(9), 1e-7);
        assertEquals(0.9f + 0.1f * 15 * k / rows, use.getFloat(20), 1e-5);
        assertEquals(0.9f, use.getFloat(30), 1e-6);

        // between restart steps the use decays and nothing restarts
        use.putScalar(5, 0f);
        assertEquals(0, w.updateUseAndRestart(ids, null, 43));
        assertEquals(before.getRow(5), cb.getRow(5));
    }

    @Test
    void withRestartsAStepDependsOnlyOnTheLoadedState() {
        int batch = 2;
        TokenizerConfig c = TestConfigs.tiny(batch).withRestartDeadEvery(2);
        TokenizerWorker a = new TokenizerWorker(c, 0);
        INDArray images = TokenizerTrainingTest.images(batch, c.imageSize(), 3);
        ImageBatch b = new ImageBatch(images, null);
        // most of the 64 codes start dead, so the restart at step 1 has work
        a.state().optState().get(TokenizerWorker.CODE_USE).assign(0);
        INDArray cb0 = a.state().params().get("quantizer/codebook").dup();
        a.step(b, new StepContext(0, 0, 0, 1.0, 100));
        a.step(b, new StepContext(1, 0, 0, 1.0, 101));
        INDArray cb1 = a.state().params().get("quantizer/codebook");
        int moved = 0;
        for (int i = 0; i < c.codebookSize(); i++) if (!cb1.getRow(i).equalsWithEps(cb0.getRow(i), 0.05)) moved++;
        assertTrue(moved >= c.codebookSize() / 2, "codes restarted at step 1: " + moved);
        TrainState mid = a.state().copy();
        a.step(b, new StepContext(2, 0, 0, 1.0, 102));
        a.step(b, new StepContext(3, 0, 0, 1.0, 103));

        TokenizerWorker fresh = new TokenizerWorker(c, 0);
        fresh.load(mid);
        fresh.step(b, new StepContext(2, 0, 0, 1.0, 102));
        fresh.step(b, new StepContext(3, 0, 0, 1.0, 103));
        TrainState x = a.state(), y = fresh.state();
        for (String key : x.params().keySet()) {
            assertArrayEquals(x.params().get(key).data().asFloat(), y.params().get(key).data().asFloat(), key);
        }
        for (String key : x.optState().keySet()) {
            assertArrayEquals(x.optState().get(key).data().asFloat(), y.optState().get(key).data().asFloat(), key);
        }
    }
}
