package io.robustok.eval;

/**
 * Fréchet distance between two Gaussians (SPEC section 7):
 * {@code |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2)}.
 *
 * <p>{@code tr sqrt(S1 S2)} is the sum of square roots of the eigenvalues of the symmetric positive
 * semi-definite {@code sqrt(S1) S2 sqrt(S1)}, which has the same spectrum as {@code S1 S2}. With
 * {@code S1 = V W V^T}, {@code sqrt(S1) S2 sqrt(S1)} is similar to {@code W^1/2 (V^T S2 V) W^1/2}, so one
 * eigen-decomposition with vectors (of S1), two matrix products and one eigenvalues-only decomposition
 * suffice. Unlike scipy's {@code sqrtm(S1 @ S2)} (pytorch-fid, ADM), nothing goes complex: rank-deficient
 * covariances (fewer samples than dimensions) give a finite value; eigenvalues that rounding pushes below
 * zero are clamped to 0. All in float64.
 */
public final class FrechetDistance {
    private FrechetDistance() {
    }

    public static double compute(FeatureStats a, FeatureStats b) {
        return compute(a.mean(), a.covariance(), b.mean(), b.covariance());
    }

    /**
     * @param mu1    mean, length d
     * @param sigma1 covariance, d x d row-major (symmetric; only its symmetric part is used)
     */
    public static double compute(double[] mu1, double[] sigma1, double[] mu2, double[] sigma2) {
        int d = mu1.length;
        if (mu2.length != d) throw new IllegalArgumentException("means differ in dimension: " + d + " vs " + mu2.length);
        if (sigma1.length != (long) d * d || sigma2.length != (long) d * d) {
            throw new IllegalArgumentException("covariances must be " + d + "x" + d);
        }
        double meanTerm = 0;
        for (int i = 0; i < d; i++) {
            double t = mu1[i] - mu2[i];
            meanTerm += t * t;
        }
        double tr1 = 0, tr2 = 0;
        for (int i = 0; i < d; i++) {
            tr1 += sigma1[i * d + i];
            tr2 += sigma2[i * d + i];
        }
        return meanTerm + tr1 + tr2 - 2 * traceSqrtProduct(sigma1, sigma2, d);
    }

    /** {@code tr sqrt(S1 S2)} for symmetric positive semi-definite S1, S2. */
    static double traceSqrtProduct(double[] sigma1, double[] sigma2, int d) {
        double[] v = symmetricPart(sigma1, d);
        double[] w = Blas.symmetricEigen(v, d, true); // v now holds the eigenvectors as columns
        double[] s2 = symmetricPart(sigma2, d);
        double[] b = Blas.gemm(false, Blas.gemm(true, v, false, s2, d), false, v, d); // V^T S2 V
        double[] r = new double[d];
        for (int i = 0; i < d; i++) r[i] = Math.sqrt(Math.max(w[i], 0.0));
        double[] m = new double[d * d];
        for (int i = 0; i < d; i++) {
            for (int j = i; j < d; j++) {
                // average both triangles: the products leave an asymmetry of rounding size
                double x = r[i] * r[j] * 0.5 * (b[i * d + j] + b[j * d + i]);
                m[i * d + j] = x;
                m[j * d + i] = x;
            }
        }
        double[] lambda = Blas.symmetricEigen(m, d, false);
        double tr = 0;
        for (double l : lambda) tr += Math.sqrt(Math.max(l, 0.0));
        return tr;
    }

    private static double[] symmetricPart(double[] s, int d) {
        double[] o = new double[d * d];
        for (int i = 0; i < d; i++) {
            for (int j = i; j < d; j++) {
                double x = 0.5 * (s[i * d + j] + s[j * d + i]);
                o[i * d + j] = x;
                o[j * d + i] = x;
            }
        }
        return o;
    }
}
