package io.robustok.eval;

/**
 * Improved precision and recall (Kynkäänniemi et al. 2019) as ADM's ManifoldEstimator computes them
 * (SPEC section 7): each set's manifold is the union of balls around its points whose radius is the distance
 * to the k-th nearest neighbour (k = 3; the point itself is neighbour 0); precision = fraction of samples
 * inside the reference manifold, recall = fraction of reference points inside the sample manifold.
 *
 * <p>Squared Euclidean distances {@code |u|^2 - 2 u.v + |v|^2} clamped at 0, computed in blocks by sgemm
 * (ADM: float16 with a float32 fallback; we use float32 throughout, so a point lying exactly on a ball's
 * boundary may count differently). Memory is O(block^2), not O(n^2): each row keeps its k+1 smallest distances.
 */
public final class PrecisionRecall {
    /** ADM's neighbourhood size. */
    public static final int ADM_K = 3;

    private PrecisionRecall() {
    }

    public record Result(double precision, double recall) {
    }

    /**
     * @param ref     reference features, nRef x dim row-major
     * @param samples sample features, nSamples x dim row-major
     * @param block   rows per distance block (ADM: 10000; memory block^2 floats)
     */
    public static Result compute(float[] ref, int nRef, float[] samples, int nSamples, int dim, int k, int block) {
        float[] radiiRef = radii(ref, nRef, dim, k, block);
        float[] radiiSamples = radii(samples, nSamples, dim, k, block);
        boolean[] sampleInRef = new boolean[nSamples];
        boolean[] refInSamples = new boolean[nRef];
        float[] nr = norms(ref, nRef, dim), ns = norms(samples, nSamples, dim);
        float[] dist = new float[block * block];
        for (int r0 = 0; r0 < nRef; r0 += block) {
            int rn = Math.min(block, nRef - r0);
            for (int s0 = 0; s0 < nSamples; s0 += block) {
                int sn = Math.min(block, nSamples - s0);
                distances(ref, r0, rn, nr, samples, s0, sn, ns, dim, dist);
                for (int i = 0; i < rn; i++) {
                    float rr = radiiRef[r0 + i];
                    int o = i * sn;
                    for (int j = 0; j < sn; j++) {
                        float dd = dist[o + j];
                        if (dd <= rr) sampleInRef[s0 + j] = true;
                        if (dd <= radiiSamples[s0 + j]) refInSamples[r0 + i] = true;
                    }
                }
            }
        }
        return new Result(fraction(sampleInRef), fraction(refInSamples));
    }

    /** Squared distance of every point to its k-th nearest neighbour in the same set (itself at index 0). */
    static float[] radii(float[] x, int n, int dim, int k, int block) {
        if (n <= k) throw new IllegalArgumentException("need more than k=" + k + " points for manifold radii, got " + n);
        float[] nx = norms(x, n, dim);
        float[] best = new float[n * (k + 1)]; // per row: k+1 smallest, ascending
        java.util.Arrays.fill(best, Float.POSITIVE_INFINITY);
        float[] dist = new float[block * block];
        for (int r0 = 0; r0 < n; r0 += block) {
            int rn = Math.min(block, n - r0);
            for (int c0 = 0; c0 < n; c0 += block) {
                int cn = Math.min(block, n - c0);
                distances(x, r0, rn, nx, x, c0, cn, nx, dim, dist);
                for (int i = 0; i < rn; i++) {
                    int b = (r0 + i) * (k + 1);
                    int o = i * cn;
                    for (int j = 0; j < cn; j++) {
                        float dd = dist[o + j];
                        if (dd < best[b + k]) {
                            int p = k;
                            while (p > 0 && best[b + p - 1] > dd) {
                                best[b + p] = best[b + p - 1];
                                p--;
                            }
                            best[b + p] = dd;
                        }
                    }
                }
            }
        }
        float[] radii = new float[n];
        for (int i = 0; i < n; i++) radii[i] = best[i * (k + 1) + k];
        return radii;
    }

    private static void distances(float[] a, int a0, int an, float[] na, float[] b, int b0, int bn, float[] nb, int dim, float[] out) {
        float[] ab = java.util.Arrays.copyOfRange(a, a0 * dim, (a0 + an) * dim);
        float[] bb = a == b && a0 == b0 ? ab : java.util.Arrays.copyOfRange(b, b0 * dim, (b0 + bn) * dim);
        Blas.sgemmNT(ab, an, bb, bn, dim, out);
        for (int i = 0; i < an; i++) {
            int o = i * bn;
            for (int j = 0; j < bn; j++) out[o + j] = Math.max(na[a0 + i] - 2 * out[o + j] + nb[b0 + j], 0f);
        }
    }

    private static float[] norms(float[] x, int n, int dim) {
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int j = 0; j < dim; j++) s += (double) x[i * dim + j] * x[i * dim + j];
            out[i] = (float) s;
        }
        return out;
    }

    private static double fraction(boolean[] b) {
        int c = 0;
        for (boolean v : b) if (v) c++;
        return b.length == 0 ? Double.NaN : (double) c / b.length;
    }
}
