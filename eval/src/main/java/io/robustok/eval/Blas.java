package io.robustok.eval;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas;

/**
 * The few LAPACK/BLAS calls the metrics need, in float64 (float32 for pairwise distances), row-major.
 * OpenBLAS with LAPACK is the same library ND4J's CPU backend ships; calling it directly keeps the metric
 * math independent of ND4J's data types and of the GPU backend.
 */
final class Blas {
    static {
        Loader.load(openblas.class);
    }

    private Blas() {
    }

    /**
     * Eigen-decomposition of the symmetric {@code d x d} matrix {@code a} (row-major, overwritten): on return
     * {@code a} holds the eigenvectors as columns when {@code vectors}, and the ascending eigenvalues are returned.
     * Divide and conquer (dsyevd): an order of magnitude faster than QR iteration at d = 2048.
     */
    static double[] symmetricEigen(double[] a, int d, boolean vectors) {
        double[] w = new double[d];
        int info = openblas.LAPACKE_dsyevd(openblas.LAPACK_ROW_MAJOR, (byte) (vectors ? 'V' : 'N'), (byte) 'U', d, a, d, w);
        if (info != 0) throw new ArithmeticException("dsyevd failed to converge (info=" + info + ")");
        return w;
    }

    /** C = op(A) op(B), all {@code d x d}. */
    static double[] gemm(boolean transA, double[] a, boolean transB, double[] b, int d) {
        double[] c = new double[d * d];
        openblas.cblas_dgemm(openblas.CblasRowMajor, transA ? openblas.CblasTrans : openblas.CblasNoTrans,
                transB ? openblas.CblasTrans : openblas.CblasNoTrans, d, d, d, 1.0, a, d, b, d, 0.0, c, d);
        return c;
    }

    /** Upper triangle of {@code C += X^T X} for {@code X} of n rows and d columns, then mirrored to the lower. */
    static void addGram(double[] x, int n, int d, double[] c) {
        openblas.cblas_dsyrk(openblas.CblasRowMajor, openblas.CblasUpper, openblas.CblasTrans, d, n, 1.0, x, d, 1.0, c, d);
        for (int i = 0; i < d; i++) {
            for (int j = i + 1; j < d; j++) c[j * d + i] = c[i * d + j];
        }
    }

    /** {@code C = A B^T} with A of m rows, B of n rows, both k columns (float32). */
    static void sgemmNT(float[] a, int m, float[] b, int n, int k, float[] c) {
        openblas.cblas_sgemm(openblas.CblasRowMajor, openblas.CblasNoTrans, openblas.CblasTrans, m, n, k,
                1.0f, a, k, b, k, 0.0f, c, n);
    }
}
