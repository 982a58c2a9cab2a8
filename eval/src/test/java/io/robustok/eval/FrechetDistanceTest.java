package io.robustok.eval;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Closed forms of the Fréchet distance (SPEC section 7) and the streaming statistics it is computed from. */
class FrechetDistanceTest {

    private static double[] identity(int d, double scale) {
        double[] s = new double[d * d];
        for (int i = 0; i < d; i++) s[i * d + i] = scale;
        return s;
    }

    @Test
    void unitMeanShiftAtD2048WithIdentityCovariancesIs2048() {
        int d = 2048;
        double[] mu0 = new double[d];
        double[] mu1 = new double[d];
        java.util.Arrays.fill(mu1, 1.0);
        double fid = FrechetDistance.compute(mu0, identity(d, 1), mu1, identity(d, 1));
        assertEquals(2048.0, fid, 1e-9, "SPEC section 7 check");
    }

    @Test
    void diagonalCovariancesMatchClosedForm() {
        // diagonal S1 = diag(a), S2 = diag(b): FID = |mu1-mu2|^2 + sum (sqrt(a) - sqrt(b))^2
        int d = 300;
        Random rnd = new Random(1);
        double[] mu1 = new double[d], mu2 = new double[d], s1 = new double[d * d], s2 = new double[d * d];
        double expected = 0;
        for (int i = 0; i < d; i++) {
            mu1[i] = rnd.nextGaussian();
            mu2[i] = rnd.nextGaussian();
            double a = 0.01 + 5 * rnd.nextDouble();
            double b = i % 7 == 0 ? 0.0 : 0.01 + 5 * rnd.nextDouble(); // some zero variances: rank-deficient S2
            s1[i * d + i] = a;
            s2[i * d + i] = b;
            expected += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + (Math.sqrt(a) - Math.sqrt(b)) * (Math.sqrt(a) - Math.sqrt(b));
        }
        assertEquals(expected, FrechetDistance.compute(mu1, s1, mu2, s2), 1e-9 * expected);
    }

    @Test
    void rotatedCovariancesMatchClosedForm() {
        // S1 = Q diag(a) Q^T and S2 = Q diag(b) Q^T commute: tr sqrt(S1 S2) = sum sqrt(a b), whatever Q
        int d = 64;
        Random rnd = new Random(2);
        double[] q = randomOrthogonal(d, rnd);
        double[] a = new double[d], b = new double[d];
        double expected = 0;
        for (int i = 0; i < d; i++) {
            a[i] = rnd.nextDouble() * 3;
            b[i] = rnd.nextDouble() * 3;
            expected += a[i] + b[i] - 2 * Math.sqrt(a[i] * b[i]);
        }
        double fid = FrechetDistance.compute(new double[d], conj(q, a, d), new double[d], conj(q, b, d));
        assertEquals(expected, fid, 1e-9 * Math.max(1, expected));
    }

    @Test
    void nonCommutingCovariancesMatchTheTwoByTwoClosedForm() {
        // 2x2: S1 S2 has positive eigenvalues l1, l2 (it is similar to S1^1/2 S2 S1^1/2), so
        // tr sqrt(S1 S2) = sqrt(l1) + sqrt(l2) = sqrt(tr(S1 S2) + 2 sqrt(det S1 det S2))
        double[] s1 = {2.0, 0.5, 0.5, 1.0};
        double[] s2 = {1.0, -0.3, -0.3, 3.0};
        double[] mu1 = {0.1, -0.2}, mu2 = {0.4, 0.3};
        double s1s2 = s1[0] * s2[1] + s1[1] * s2[3], s2s1 = s2[0] * s1[1] + s2[1] * s1[3];   // element [0][1] of each product
        assertTrue(Math.abs(s1s2 - s2s1) > 0.1, "S1 and S2 do not commute");
        double trProd = s1[0] * s2[0] + s1[1] * s2[2] + s1[2] * s2[1] + s1[3] * s2[3];
        double det1 = s1[0] * s1[3] - s1[1] * s1[2], det2 = s2[0] * s2[3] - s2[1] * s2[2];
        double trSqrt = Math.sqrt(trProd + 2 * Math.sqrt(det1 * det2));
        double expected = 0.3 * 0.3 + 0.5 * 0.5 + (s1[0] + s1[3]) + (s2[0] + s2[3]) - 2 * trSqrt;
        assertEquals(expected, FrechetDistance.compute(mu1, s1, mu2, s2), 1e-12 * Math.max(1, expected));
    }

    @Test
    void fewerSamplesThanDimensionsGivesFiniteValueAndZeroForItself() {
        int d = 256, n = 40;
        Random rnd = new Random(3);
        FeatureStats a = new FeatureStats(d), b = new FeatureStats(d);
        a.update(gaussian(n, d, rnd, 0), n);
        b.update(gaussian(n, d, rnd, 0.5), n);
        double fid = FrechetDistance.compute(a, b);
        assertTrue(Double.isFinite(fid) && fid > 0, "rank-deficient covariances give " + fid);
        double self = FrechetDistance.compute(a, a);
        // eigenvalues of a rank-40 product: the clamped null space leaves only rounding
        assertEquals(0.0, self, 1e-6 * fid);
    }

    @Test
    void mergedPartitionStatisticsEqualOnePass() {
        int d = 32;
        Random rnd = new Random(4);
        // large common offset: raw sums of x and x x^T would lose about 8 digits here
        double[] all = gaussian(1000, d, rnd, 1e4);
        FeatureStats one = new FeatureStats(d).update(all.clone(), 1000);
        FeatureStats merged = new FeatureStats(d);
        int[] cuts = {0, 1, 7, 300, 301, 650, 1000};
        for (int p = 0; p + 1 < cuts.length; p++) {
            int n = cuts[p + 1] - cuts[p];
            double[] part = java.util.Arrays.copyOfRange(all, cuts[p] * d, cuts[p + 1] * d);
            // fold each partition in two halves, then merge partitions pairwise as treeAggregate would
            FeatureStats ps = new FeatureStats(d);
            int h = n / 2;
            ps.update(java.util.Arrays.copyOfRange(part, 0, h * d), h);
            ps.update(java.util.Arrays.copyOfRange(part, h * d, n * d), n - h);
            merged.merge(ps);
        }
        assertEquals(1000, merged.count());
        double[] m1 = one.mean(), m2 = merged.mean(), c1 = one.covariance(), c2 = merged.covariance();
        for (int i = 0; i < d; i++) assertEquals(m1[i], m2[i], 1e-9);
        for (int i = 0; i < d * d; i++) assertEquals(c1[i], c2[i], 1e-9);
        // against a direct two-pass covariance
        double[] mean = new double[d];
        for (int r = 0; r < 1000; r++) for (int j = 0; j < d; j++) mean[j] += all[r * d + j] / 1000;
        for (int i = 0; i < d; i++) {
            assertEquals(mean[i], m1[i], 1e-9);
            for (int j = 0; j < d; j++) {
                double s = 0;
                for (int r = 0; r < 1000; r++) s += (all[r * d + i] - mean[i]) * (all[r * d + j] - mean[j]);
                assertEquals(s / 999, c1[i * d + j], 1e-9);
            }
        }
    }

    static double[] gaussian(int n, int d, Random rnd, double offset) {
        double[] x = new double[n * d];
        for (int i = 0; i < x.length; i++) x[i] = offset + rnd.nextGaussian() * (1 + (i % d) * 0.01);
        return x;
    }

    /** Q diag(e) Q^T. */
    static double[] conj(double[] q, double[] e, int d) {
        double[] s = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                double x = 0;
                for (int k = 0; k < d; k++) x += q[i * d + k] * e[k] * q[j * d + k];
                s[i * d + j] = x;
            }
        return s;
    }

    /** Gram-Schmidt on a Gaussian matrix (columns orthonormal). */
    static double[] randomOrthogonal(int d, Random rnd) {
        double[] q = new double[d * d];
        for (int i = 0; i < q.length; i++) q[i] = rnd.nextGaussian();
        for (int c = 0; c < d; c++) {
            for (int p = 0; p < c; p++) {
                double dot = 0;
                for (int r = 0; r < d; r++) dot += q[r * d + c] * q[r * d + p];
                for (int r = 0; r < d; r++) q[r * d + c] -= dot * q[r * d + p];
            }
            double nrm = 0;
            for (int r = 0; r < d; r++) nrm += q[r * d + c] * q[r * d + c];
            nrm = Math.sqrt(nrm);
            for (int r = 0; r < d; r++) q[r * d + c] /= nrm;
        }
        return q;
    }
}
