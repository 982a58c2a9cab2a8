package io.robustok.tokenizer;

import io.robustok.nn.Backprop;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Backprop} (the session's array cache on) against SameDiff's own calculateGradientsAndOutputs (cache off) on
 * the tokenizer's largest graph, the GAN step (encoder, quantiser with perturbation, decoder, PatchGAN on the
 * augmented reconstruction, every loss): every output and gradient bitwise equal, call after call with new inputs
 * (reused buffers are not zero: an op that relied on a zeroed output would differ), and arrays returned by one call
 * unchanged by the calls after it.
 */
class BackpropTest {
    static void assertSame(INDArray expected, INDArray actual, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what);
        assertArrayEquals(expected.dup().data().asFloat(), actual.dup().data().asFloat(), what);
    }

    static List<String> trainable(SameDiff sd) {
        List<String> names = new ArrayList<>();
        for (SDVariable v : sd.variables()) if (v.getVariableType() == VariableType.VARIABLE) names.add(v.name());
        return names;
    }

    /** The GAN graph's inputs for call {@code call}: new images, every third token perturbed, new augmentations. */
    static Map<String, INDArray> placeholders(TokenizerWorker w, TokenizerConfig c, int batch, int call, int imageSeed, int augSeed) {
        INDArray images = TokenizerTrainingTest.images(batch, c.imageSize(), imageSeed + call);
        Map<String, INDArray> ph = new HashMap<>();
        ph.put("image", images);
        int[] ranks = new int[batch * c.tokens()];
        for (int i = 0; i < ranks.length; i += 3) ranks[i] = 1 + (i + call) % 4;
        w.perturbationInputs(ph, images, ranks);
        new DiffAugment(c.diffAug(), c.imageSize(), c.cutout()).draw(ph, "fake", batch, augSeed + call);
        ph.put("ganWeight", Nd4j.scalar(0.5f));
        return ph;
    }

    @Test
    void cachedBackpropIsBitwiseSameDiffsAndKeepsReturnedArrays() {
        int batch = 4;
        TokenizerConfig c = TestConfigs.tiny(batch).withGan(0, 1e-3, LatentPerturbation.Schedule.paper());
        TokenizerWorker w = new TokenizerWorker(c, 0);
        SameDiff g = w.ganGraph();
        List<String> wrt = trainable(g);
        List<String> outs = List.of("headIn", "recon");
        Map<String, INDArray> firstOut = null, firstSnapshot = null;
        for (int call = 0; call < 3; call++) {
            Map<String, INDArray> ph = placeholders(w, c, batch, call, 20, 5);
            OutAndGrad ref = g.calculateGradientsAndOutputs(ph, outs, wrt);
            OutAndGrad got = Backprop.run(g, ph, outs, wrt);
            for (String o : outs) assertSame(ref.getOutputs().get(o), got.getOutputs().get(o), "output " + o + ", call " + call);
            assertEquals(wrt.size(), got.getGradients().size());
            for (String p : wrt) assertSame(ref.getGradients().get(p), got.getGradients().get(p), "gradient of " + p + ", call " + call);

            if (call == 0) {
                firstOut = new HashMap<>(got.getGradients());
                firstOut.put("recon", got.getOutputs().get("recon"));
                firstSnapshot = new HashMap<>();
                for (Map.Entry<String, INDArray> e : firstOut.entrySet()) firstSnapshot.put(e.getKey(), e.getValue().dup());
            } else {
                for (Map.Entry<String, INDArray> e : firstOut.entrySet()) {
                    assertSame(firstSnapshot.get(e.getKey()), e.getValue(), e.getKey() + " of call 0 after call " + call);
                }
                // the inputs differ, so the check above is not comparing equal results
                assertFalse(firstSnapshot.get("recon").equalsWithEps(got.getOutputs().get("recon"), 1e-6));
            }
        }
    }

    @Test
    void recycledArraysAreReusedWithoutChangingResults() {
        int batch = 4;
        TokenizerConfig c = TestConfigs.tiny(batch).withGan(0, 1e-3, LatentPerturbation.Schedule.paper());
        TokenizerWorker w = new TokenizerWorker(c, 0);
        SameDiff g = w.ganGraph();
        List<String> wrt = trainable(g);
        List<String> outs = List.of("headIn", "recon");
        int recycled = 0;
        for (int call = 0; call < 4; call++) {
            Map<String, INDArray> ph = placeholders(w, c, batch, call, 40, 9);
            OutAndGrad ref = g.calculateGradientsAndOutputs(ph, outs, wrt);
            OutAndGrad got = Backprop.run(g, ph, outs, wrt);
            for (String o : outs) assertSame(ref.getOutputs().get(o), got.getOutputs().get(o), "output " + o + ", call " + call);
            for (String p : wrt) assertSame(ref.getGradients().get(p), got.getGradients().get(p), "gradient of " + p + ", call " + call);
            // from the second call on, the arrays handed back here are in the cache the next call allocates from
            recycled += Backprop.recycle(g, got);
        }
        // most gradients went back (not a vacuous comparison); the rest were already in the session's cache
        assertTrue(recycled >= 3 * wrt.size() / 2, "arrays recycled over 3 calls: " + recycled + " of " + 4 * (wrt.size() + 2));
    }

    /**
     * Intermediates the session forgets (never releases) go back to the cache with the results in {@code recycle}:
     * after two calls to warm up, a call allocates at most a third of the new arrays it allocates with ND4J's own cache under the same
     * recycling, and every output and gradient stays bitwise equal to a fresh worker's (which never reuses memory).
     */
    @Test
    void forgottenIntermediatesGoBackToTheCache() {
        int batch = 4;
        TokenizerConfig c = TestConfigs.tiny(batch).withGan(0, 1e-3, LatentPerturbation.Schedule.paper());
        long[] perCall = new long[2];
        for (int variant = 0; variant < 2; variant++) {
            TokenizerWorker w = new TokenizerWorker(c, 0);
            TokenizerWorker fresh = new TokenizerWorker(c, 0);
            SameDiff g = w.ganGraph();
            List<String> wrt = trainable(g);
            List<String> outs = List.of("headIn", "recon");
            MissCounter counter = null;
            for (int call = 0; call < 6; call++) {
                Map<String, INDArray> ph = placeholders(w, c, batch, call, 60, 3);
                OutAndGrad got = Backprop.run(g, ph, outs, wrt);
                OutAndGrad ref = fresh.ganGraph().calculateGradientsAndOutputs(ph, outs, wrt);
                for (String o : outs) assertSame(ref.getOutputs().get(o), got.getOutputs().get(o), "output " + o + ", call " + call);
                for (String p : wrt) assertSame(ref.getGradients().get(p), got.getGradients().get(p), "gradient of " + p + ", call " + call);
                Backprop.recycle(g, got);
                if (call == 0) {
                    // variant 0 allocates and releases as ND4J's own cache
                    MissCounter.Counting cache = new MissCounter.Counting(variant == 1);
                    MissCounter.install(g, cache);
                    counter = cache.counter;
                }
                if (call == 2) counter.misses.clear();
            }
            perCall[variant] = counter.count() / 3;
        }
        // ND4J's cache misses every forgotten intermediate on every call; Backprop's misses few if any
        assertTrue(perCall[0] >= 10, "misses per call with ND4J's cache: " + perCall[0]);
        assertTrue(perCall[1] * 3 <= perCall[0], "misses per call: Backprop's cache " + perCall[1] + ", ND4J's " + perCall[0]);
    }
}
