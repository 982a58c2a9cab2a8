package io.robustok.tokenizer;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** SPEC section 3: rate, scope, support and schedule of the latent perturbation. */
class LatentPerturbationTest {

    @Test
    void replacesAtRateAlphaTimesOneMinusOneOverDeltaOnlyInBetaFractionOfImages() {
        int images = 2000, tokens = 64, delta = 10;
        double alpha = 0.6, beta = 0.3;
        int[] ranks = LatentPerturbation.drawRanks(images, tokens, alpha, delta, beta, 11);
        int touchedImages = 0;
        long replacedInTouched = 0;
        for (int n = 0; n < images; n++) {
            int r = 0;
            for (int t = 0; t < tokens; t++) {
                int k = ranks[n * tokens + t];
                assertTrue(k >= 0 && k < delta, "rank inside the top-delta set");
                if (k != 0) r++;
            }
            if (r > 0) {
                touchedImages++;
                replacedInTouched += r;
            }
        }
        // per touched image, replacement rate alpha * (1 - 1/delta) = 0.54; an image with 0 of 64 replaced is ~1e-22
        double rate = replacedInTouched / (double) (touchedImages * tokens);
        double expected = alpha * (1 - 1.0 / delta);
        double sd = Math.sqrt(expected * (1 - expected) / (touchedImages * tokens));
        assertEquals(expected, rate, 5 * sd, "replacement rate");
        double frac = touchedImages / (double) images;
        assertEquals(beta, frac, 5 * Math.sqrt(beta * (1 - beta) / images), "fraction of perturbed images");
    }

    @Test
    void replacementsStayInsideTopDeltaOfTheToken() {
        int rows = 40, k = 30, delta = 5;
        java.util.Random r = new java.util.Random(2);
        INDArray sims = Nd4j.rand(DataType.FLOAT, rows, k);
        int[] ranks = LatentPerturbation.drawRanks(4, 10, 1.0, delta, 1.0, 3);
        int[] ids = LatentPerturbation.perturbedIds(sims, ranks);
        for (int i = 0; i < rows; i++) {
            float[] v = sims.getRow(i).toFloatVector();
            Integer[] order = new Integer[k];
            for (int j = 0; j < k; j++) order[j] = j;
            java.util.Arrays.sort(order, (a, b) -> Float.compare(v[b], v[a]));
            assertEquals(order[ranks[i]].intValue(), ids[i], "row " + i + " rank " + ranks[i] + " is the rank-th nearest");
            Set<Integer> allowed = new HashSet<>(java.util.Arrays.asList(order).subList(0, delta));
            assertTrue(allowed.contains(ids[i]));
        }
        // rank 0 is the clean (nearest) code
        assertEquals(order0(sims, 0), LatentPerturbation.nearest(sims, 0, 0));
    }

    private static int order0(INDArray sims, int row) {
        return sims.getRow(row).argMax().getInt(0);
    }

    @Test
    void nothingChangesWhenAlphaOrBetaIsZeroOrDeltaIsOne() {
        for (int[] r : new int[][]{LatentPerturbation.drawRanks(10, 10, 0, 50, 1, 1),
                LatentPerturbation.drawRanks(10, 10, 1, 50, 0, 1), LatentPerturbation.drawRanks(10, 10, 1, 1, 1, 1)}) {
            for (int k : r) assertEquals(0, k);
        }
    }

    @Test
    void scheduleMatchesSpecAtEpochs0_40_80_120_200() {
        LatentPerturbation.Schedule s = LatentPerturbation.Schedule.paper();
        double[] epochs = {0, 40, 80, 120, 200};
        double[] alpha = {1.0, 1.0, 0.75, 0.5, 0.5};
        int[] delta = {100, 100, 75, 50, 50};
        for (int i = 0; i < epochs.length; i++) {
            assertEquals(alpha[i], s.alpha(epochs[i]), 1e-12, "alpha at " + epochs[i]);
            assertEquals(delta[i], s.delta(epochs[i]), "delta at " + epochs[i]);
            assertEquals(0.1, s.beta(), 1e-12);
        }
        // and the shipped defaults are the paper's
        LatentPerturbation.Schedule d = TestConfigs.defaults().perturb();
        assertEquals(s, d);
    }

    @Test
    void tokenizerWorkersAreNotSharedAcrossPerturbationSettings() {
        // the worker's step reads the schedule from the config it was built with: a perturbation sweep run in one
        // JVM must build a worker per strength, not train every variant with the first one's
        var same = io.robustok.config.Settings.load(null, java.util.List.of("tokenizer.perturb.alpha-max=1.0"));
        var half = io.robustok.config.Settings.load(null, java.util.List.of("tokenizer.perturb.alpha-max=0.5"));
        String a = new TokenizerTask<>(TestConfigs.defaults(), 0, null).workerKey();
        assertEquals(a, new TokenizerTask<>(TokenizerConfig.from(same.at("tokenizer")), 0, null).workerKey());
        assertTrue(!a.equals(new TokenizerTask<>(TokenizerConfig.from(half.at("tokenizer")), 0, null).workerKey()));
    }
}
