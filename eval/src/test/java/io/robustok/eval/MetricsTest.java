package io.robustok.eval;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Inception Score, precision/recall and codebook statistics against direct implementations of ADM's code. */
class MetricsTest {

    @Test
    void inceptionScoreMatchesAdmSplitsAndMergesInAnyOrder() {
        int n = 2350, c = 12, split = 500; // 5 splits, the last one short (350), as ADM's loop makes them
        Random rnd = new Random(5);
        float[] logits = new float[n * c];
        for (int i = 0; i < logits.length; i++) logits[i] = (float) (3 * rnd.nextGaussian());
        // ADM: scores over preds[i:i+split]: exp(mean(sum(p (log p - log mean p))))
        double expected = 0;
        int splits = 0;
        for (int s0 = 0; s0 < n; s0 += split) {
            int m = Math.min(split, n - s0);
            double[][] p = new double[m][c];
            double[] mean = new double[c];
            for (int i = 0; i < m; i++) {
                double mx = Double.NEGATIVE_INFINITY, z = 0;
                for (int j = 0; j < c; j++) mx = Math.max(mx, logits[(s0 + i) * c + j]);
                for (int j = 0; j < c; j++) z += p[i][j] = Math.exp(logits[(s0 + i) * c + j] - mx);
                for (int j = 0; j < c; j++) mean[j] += (p[i][j] /= z) / m;
            }
            double kl = 0;
            for (int i = 0; i < m; i++) for (int j = 0; j < c; j++) kl += p[i][j] * (Math.log(p[i][j]) - Math.log(mean[j])) / m;
            expected += Math.exp(kl);
            splits++;
        }
        expected /= splits;
        InceptionScore one = new InceptionScore(c, split).update(logits, n, 0);
        assertEquals(5, one.splits());
        assertEquals(expected, one.result(), 1e-10 * expected);
        // partitions that straddle split boundaries, merged in reverse order
        int[] cuts = {0, 123, 499, 500, 1700, 2350};
        InceptionScore merged = new InceptionScore(c, split);
        for (int p = cuts.length - 2; p >= 0; p--) {
            float[] part = java.util.Arrays.copyOfRange(logits, cuts[p] * c, cuts[p + 1] * c);
            merged.merge(new InceptionScore(c, split).update(part, cuts[p + 1] - cuts[p], cuts[p]));
        }
        assertEquals(n, merged.count());
        assertEquals(one.result(), merged.result(), 1e-10 * expected);
    }

    @Test
    void inceptionScoreBounds() {
        int c = 10;
        // confident and evenly spread over classes: IS = number of classes; all the same: IS = 1
        float[] spread = new float[100 * c], same = new float[100 * c];
        for (int i = 0; i < 100; i++) {
            spread[i * c + i % c] = 200;
            same[i * c + 3] = 200;
        }
        assertEquals(10, new InceptionScore(c, 5000).update(spread, 100, 0).result(), 1e-9);
        assertEquals(1, new InceptionScore(c, 5000).update(same, 100, 0).result(), 1e-9);
    }

    @Test
    void precisionRecallMatchesBruteForce() {
        int dim = 8, nr = 157, ns = 131;
        Random rnd = new Random(6);
        float[] ref = new float[nr * dim], smp = new float[ns * dim];
        for (int i = 0; i < ref.length; i++) ref[i] = (float) rnd.nextGaussian();
        // samples: shifted and narrower, so precision and recall differ and are neither 0 nor 1
        for (int i = 0; i < smp.length; i++) smp[i] = (float) (0.7 * rnd.nextGaussian() + (i % dim == 0 ? 1.2 : 0));
        double[] rr = bruteRadii(ref, nr, dim, 3), rs = bruteRadii(smp, ns, dim, 3);
        int inRef = 0, inSmp = 0;
        for (int j = 0; j < ns; j++) {
            boolean in = false;
            for (int i = 0; i < nr; i++) in |= d2(ref, i, smp, j, dim) <= rr[i];
            if (in) inRef++;
        }
        for (int i = 0; i < nr; i++) {
            boolean in = false;
            for (int j = 0; j < ns; j++) in |= d2(ref, i, smp, j, dim) <= rs[j];
            if (in) inSmp++;
        }
        // block 32 < n: exercises the blocked k-smallest selection across column blocks
        PrecisionRecall.Result r = PrecisionRecall.compute(ref, nr, smp, ns, dim, 3, 32);
        assertEquals((double) inRef / ns, r.precision(), 1e-12);
        assertEquals((double) inSmp / nr, r.recall(), 1e-12);
        PrecisionRecall.Result same = PrecisionRecall.compute(ref, nr, ref, nr, dim, 3, 64);
        assertEquals(1.0, same.precision());
        assertEquals(1.0, same.recall());
        float[] far = smp.clone();
        for (int i = 0; i < far.length; i++) far[i] += 1000;
        PrecisionRecall.Result none = PrecisionRecall.compute(ref, nr, far, ns, dim, 3, 64);
        assertEquals(0.0, none.precision());
        assertEquals(0.0, none.recall());
    }

    private static double d2(float[] a, int i, float[] b, int j, int dim) {
        double s = 0;
        for (int t = 0; t < dim; t++) {
            double x = a[i * dim + t] - b[j * dim + t];
            s += x * x;
        }
        return s;
    }

    private static double[] bruteRadii(float[] x, int n, int dim, int k) {
        double[] r = new double[n];
        for (int i = 0; i < n; i++) {
            double[] d = new double[n];
            for (int j = 0; j < n; j++) d[j] = d2(x, i, x, j, dim);
            java.util.Arrays.sort(d);
            r[i] = d[k];
        }
        return r;
    }

    @Test
    void codebookUsagePerplexityEntropy() {
        CodebookStats a = new CodebookStats(8).update(new int[]{0, 1, 2, 3});
        CodebookStats b = new CodebookStats(8).update(new int[]{0, 1, 2, 3});
        a.merge(b);
        assertEquals(8, a.total());
        assertEquals(0.5, a.usage());
        assertEquals(Math.log(4), a.entropy(), 1e-12);
        assertEquals(2.0, a.entropyBits(), 1e-12);
        assertEquals(4.0, a.perplexity(), 1e-9);
        CodebookStats skew = new CodebookStats(4).update(new long[]{0, 0, 0, 1});
        double h = -(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25));
        assertEquals(h, skew.entropy(), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> skew.update(new int[]{4}));
    }
}
