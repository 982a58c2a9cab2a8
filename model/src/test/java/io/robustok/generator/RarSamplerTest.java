package io.robustok.generator;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RarSamplerTest {
    private static final double TOL = 2e-4;

    private static INDArray step(INDArray logits, int t) {
        return logits.get(NDArrayIndex.all(), NDArrayIndex.point(t), NDArrayIndex.all());
    }

    private static void assertClose(INDArray expected, INDArray actual, String what) {
        double scale = Math.max(1.0, expected.amaxNumber().doubleValue());
        double diff = expected.sub(actual).amaxNumber().doubleValue();
        assertTrue(diff <= TOL * scale, what + ": max |diff| " + diff + " (scale " + scale + ")");
    }

    /** The KV-cached one-position-at-a-time forward gives the SameDiff full forward's logits, at every step. */
    @Test
    void kvCacheMatchesFullRecomputation() {
        for (boolean stepEmb : new boolean[]{true, false}) {
            RarConfig cfg = Fixtures.tiny(stepEmb);
            var params = Fixtures.randomParams(cfg, 21);
            Rar rar = new Rar(cfg, params);
            RarSampler sampler = new RarSampler(cfg, params);
            int[][] x = Fixtures.randomTokens(3, cfg.tokens(), cfg.codebookSize(), 22);
            int[] cond = {cfg.classRow(0), cfg.classRow(2), cfg.nullClassRow()};
            INDArray full = rar.logits(RarInputs.of(cfg, x, cond, null));
            INDArray cached = sampler.cachedLogits(x, cond);
            assertArrayEquals(full.shape(), cached.shape());
            assertClose(full, cached, "stepEmbedding=" + stepEmb);
        }
    }

    /**
     * Guidance 1 is the conditional model: the logits each sampling step uses equal the full forward's conditional
     * logits on the sampled prefix. With g > 1 they equal u + s_t (c - u), s_t from SPEC section 5, with c and u
     * from the full forward under the class and the null class.
     */
    @Test
    void guidanceFollowsSpecAndScaleOneIsConditional() {
        RarConfig cfg = Fixtures.tiny(true);
        var params = Fixtures.randomParams(cfg, 31);
        Rar rar = new Rar(cfg, params);
        RarSampler sampler = new RarSampler(cfg, params);
        int[] labels = {1, 1, 2};
        int n = labels.length, t = cfg.tokens();
        int[] classRows = Arrays.stream(labels).map(cfg::classRow).toArray();
        int[] nullRows = new int[n];
        Arrays.fill(nullRows, cfg.nullClassRow());
        for (double g : new double[]{1.0, 3.0}) {
            SamplingConfig s = new SamplingConfig(1.0, g, 1.15);
            List<INDArray> seen = new ArrayList<>();
            int[][] tokens = sampler.sample(labels, s, 5, (step, lg) -> seen.add(lg.dup()));
            assertEquals(t, seen.size());
            INDArray c = rar.logits(RarInputs.of(cfg, tokens, classRows, null));
            INDArray u = rar.logits(RarInputs.of(cfg, tokens, nullRows, null));
            for (int j = 0; j < t; j++) {
                double sj = s.scaleAt(j, t);
                INDArray expected = step(c, j).sub(step(u, j)).muli(sj).addi(step(u, j));
                assertClose(expected, seen.get(j), "g=" + g + " step " + j);
            }
            if (g == 3.0) assertTrue(step(c, t - 1).sub(seen.get(t - 1)).amaxNumber().doubleValue() > 1e-3);
        }
        SamplingConfig s = new SamplingConfig(1.0, 6.0, 1.0);
        assertEquals(1.0, s.scaleAt(0, 256), 1e-12);
        assertEquals(1 + 5 * (1 - Math.cos(Math.PI * 0.5)) / 2, s.scaleAt(128, 256), 1e-12);
        // RAR-B's power 1.15 and RAR-L's 1.01 (SPEC section 5): s_t = 1 + (g - 1) (1 - cos(pi (t/256)^p)) / 2, values
        // worked out independently: (64/256)^1.15 = 0.2030631, cos(pi x 0.2030631) = 0.8033234
        SamplingConfig rarB = new SamplingConfig(1.02, 6.0, 1.15);
        assertEquals(1 + 5.0 * (1 - 0.8033234) / 2, rarB.scaleAt(64, 256), 1e-6);
        assertEquals(1 + 5.0 * (1 - Math.cos(Math.PI * Math.pow(200 / 256.0, 1.15))) / 2, rarB.scaleAt(200, 256), 1e-12);
        SamplingConfig rarL = new SamplingConfig(1.04, 6.75, 1.01);
        assertEquals(1 + 5.75 * (1 - Math.cos(Math.PI * Math.pow(0.5, 1.01))) / 2, rarL.scaleAt(128, 256), 1e-12);
        assertTrue(rarB.scaleAt(128, 256) < new SamplingConfig(1.0, 6.0, 1.0).scaleAt(128, 256), "power > 1 delays the ramp");
    }

    @Test
    void samplingIsSeededAndTemperatureZeroIsArgmax() {
        RarConfig cfg = Fixtures.tiny(true);
        var params = Fixtures.randomParams(cfg, 41);
        RarSampler sampler = new RarSampler(cfg, params);
        int[] labels = {0, 1, 2, 0, 1, 2};
        SamplingConfig s = new SamplingConfig(1.0, 2.0, 1.0);
        int[][] a = sampler.sample(labels, s, 9);
        assertTrue(Arrays.deepEquals(a, sampler.sample(labels, s, 9)));
        assertFalse(Arrays.deepEquals(a, sampler.sample(labels, s, 10)));
        assertTrue(sampler.lastTokensPerSecond() > 0);
        // near-zero temperature: every step takes the argmax of the guided logits
        SamplingConfig cold = new SamplingConfig(1e-6, 2.0, 1.0);
        List<INDArray> seen = new ArrayList<>();
        int[][] g = sampler.sample(labels, cold, 3, (step, lg) -> seen.add(lg.dup()));
        for (int j = 0; j < cfg.tokens(); j++) {
            INDArray am = seen.get(j).argMax(1);
            for (int i = 0; i < labels.length; i++) assertEquals(am.getInt(i), g[i][j]);
        }
    }

    /**
     * Teacher-forced mixing (SPEC section 6): sigma 1 returns the truth; sigma 0.7 keeps about 70% of the true tokens;
     * each step's logits are those of the full forward on the MIXED prefix, so generated tokens feed later steps.
     */
    @Test
    void teacherForcedMixingUsesMixedPrefix() {
        RarConfig cfg = new RarConfig(16, 11, 3, 16, 2, 2, 2.0, true);
        var params = Fixtures.randomParams(cfg, 51);
        Rar rar = new Rar(cfg, params);
        RarSampler sampler = new RarSampler(cfg, params);
        int n = 40, t = cfg.tokens();
        int[][] truth = Fixtures.randomTokens(n, t, cfg.codebookSize(), 52);
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % 3;
        SamplingConfig s = new SamplingConfig(1.0, 1.5, 1.0);
        assertTrue(Arrays.deepEquals(truth, sampler.sampleMixed(truth, labels, 1.0, s, 1)));

        List<INDArray> seen = new ArrayList<>();
        int[][] mixed = sampler.sampleMixed(truth, labels, 0.7, s, 2, (step, lg) -> seen.add(lg.dup()));
        int same = 0;
        for (int i = 0; i < n; i++) for (int j = 0; j < t; j++) if (mixed[i][j] == truth[i][j]) same++;
        // kept (0.7) plus sampled tokens that happen to equal the truth (about 0.3 / 11)
        double frac = same / (double) (n * t);
        assertEquals(0.7 + 0.3 / 11, frac, 0.06);
        assertTrue(frac < 0.99);
        int[] classRows = Arrays.stream(labels).map(cfg::classRow).toArray();
        int[] nullRows = new int[n];
        Arrays.fill(nullRows, cfg.nullClassRow());
        INDArray c = rar.logits(RarInputs.of(cfg, mixed, classRows, null));
        INDArray u = rar.logits(RarInputs.of(cfg, mixed, nullRows, null));
        for (int j = 0; j < t; j++) {
            INDArray expected = step(c, j).sub(step(u, j)).muli(s.scaleAt(j, t)).addi(step(u, j));
            assertClose(expected, seen.get(j), "step " + j);
        }
    }

    /**
     * Per-row seeds (the pair-tokens stage): sigma 1 gives the true tokens exactly; sigma 0 gives exactly what the
     * sampler draws for the same class, seed and guidance; a row's result does not depend on its batch; over many
     * tokens the kept fraction is within a binomial bound of sigma and every kept position holds the true token.
     */
    @Test
    void perRowSeedsSigmaEndsAndKeptFraction() {
        RarConfig cfg = new RarConfig(16, 11, 3, 16, 2, 2, 2.0, true);
        RarSampler sampler = new RarSampler(cfg, Fixtures.randomParams(cfg, 61));
        int n = 6, t = cfg.tokens();
        int[][] truth = Fixtures.randomTokens(n, t, cfg.codebookSize(), 62);
        int[] labels = {0, 1, 2, 0, 1, 2};
        long[] seeds = {5, 6, 7, 8, 9, 10};
        SamplingConfig s = new SamplingConfig(1.0, 2.0, 1.0);

        RarSampler.Mixed all = sampler.sampleMixed(truth, labels, 1.0, s, seeds);
        assertTrue(Arrays.deepEquals(truth, all.tokens()));
        for (boolean[] row : all.kept()) for (boolean k : row) assertTrue(k);

        RarSampler.Mixed none = sampler.sampleMixed(truth, labels, 0.0, s, seeds);
        for (int i = 0; i < n; i++) {
            int[] alone = sampler.sample(new int[]{labels[i]}, s, seeds[i])[0];
            assertArrayEquals(alone, none.tokens()[i], "row " + i + ": sigma 0 is the sampler's own draw");
            for (boolean k : none.kept()[i]) assertFalse(k);
            // the same row in a batch of its own
            int[][] single = sampler.sampleMixed(new int[][]{truth[i]}, new int[]{labels[i]}, 0.0, s, new long[]{seeds[i]}).tokens();
            assertArrayEquals(alone, single[0]);
        }

        int rows = 250;
        int[][] big = Fixtures.randomTokens(rows, t, cfg.codebookSize(), 63);
        int[] bl = new int[rows];
        long[] bs = new long[rows];
        for (int i = 0; i < rows; i++) {
            bl[i] = i % 3;
            bs[i] = 1000 + i;
        }
        double sigma = 0.7;
        RarSampler.Mixed m = sampler.sampleMixed(big, bl, sigma, s, bs);
        int kept = 0;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < t; j++) {
                if (m.kept()[i][j]) {
                    kept++;
                    assertEquals(big[i][j], m.tokens()[i][j]);
                }
            }
        }
        int total = rows * t;
        double sd = Math.sqrt(sigma * (1 - sigma) / total);
        assertEquals(sigma, kept / (double) total, 4 * sd, "kept fraction within 4 binomial standard deviations");
    }
}
