package io.robustok.eval;

import java.io.Serializable;
import java.util.Arrays;

/**
 * Streaming count, mean and covariance of feature vectors in float64 (SPEC section 7).
 *
 * <p>Keeps the mean and the co-moment matrix {@code M2 = sum (x - mean)(x - mean)^T}; a batch is folded in
 * by the pairwise (Chan et al.) merge, never as raw sums of x and x x^T, whose difference loses most digits
 * when the features have a large mean. Partitions merge the same way, so Spark's treeAggregate gives the
 * one-pass statistics up to rounding.
 *
 * <p>{@link #covariance()} divides by n - 1, as numpy's {@code np.cov} in ADM's evaluator does.
 */
public final class FeatureStats implements Serializable {
    private static final long serialVersionUID = 1L;

    private final int dim;
    private long count;
    private final double[] mean;
    /** Co-moment matrix, d x d row-major, kept symmetric. */
    private final double[] m2;

    public FeatureStats(int dim) {
        if (dim <= 0) throw new IllegalArgumentException("feature dimension must be positive, got " + dim);
        this.dim = dim;
        this.mean = new double[dim];
        this.m2 = new double[dim * dim];
    }

    /** Statistics given by their moments (e.g. an ADM reference batch's mu and sigma over {@code count} images). */
    public static FeatureStats ofMoments(long count, double[] mean, double[] covariance) {
        int d = mean.length;
        if (covariance.length != (long) d * d) {
            throw new IllegalArgumentException("covariance has " + covariance.length + " entries, expected " + d + "x" + d);
        }
        FeatureStats s = new FeatureStats(d);
        s.count = count;
        System.arraycopy(mean, 0, s.mean, 0, d);
        double scale = Math.max(count - 1, 1);
        for (int i = 0; i < covariance.length; i++) s.m2[i] = covariance[i] * scale;
        return s;
    }

    /** Folds in {@code n} rows of {@code rows} (row-major, n x dim). */
    public FeatureStats update(float[] rows, int n) {
        double[] x = new double[n * dim];
        for (int i = 0; i < x.length; i++) x[i] = rows[i];
        return update(x, n);
    }

    /** Folds in {@code n} rows of {@code rows} (row-major, n x dim); {@code rows} is overwritten (centred). */
    public FeatureStats update(double[] rows, int n) {
        if (n == 0) return this;
        if (rows.length < (long) n * dim) throw new IllegalArgumentException("rows hold fewer than " + n + "x" + dim + " values");
        double[] bMean = new double[dim];
        for (int r = 0; r < n; r++) {
            int o = r * dim;
            for (int j = 0; j < dim; j++) bMean[j] += rows[o + j];
        }
        for (int j = 0; j < dim; j++) bMean[j] /= n;
        for (int r = 0; r < n; r++) {
            int o = r * dim;
            for (int j = 0; j < dim; j++) rows[o + j] -= bMean[j];
        }
        double[] bM2 = new double[dim * dim];
        Blas.addGram(rows, n, dim, bM2);
        combine(n, bMean, bM2);
        return this;
    }

    /** Adds another partition's statistics to these (in place) and returns this. */
    public FeatureStats merge(FeatureStats other) {
        if (other.dim != dim) throw new IllegalArgumentException("cannot merge " + other.dim + "-d statistics into " + dim + "-d");
        if (other.count == 0) return this;
        combine(other.count, other.mean, other.m2);
        return this;
    }

    /** Chan, Golub, LeVeque: M2 = M2a + M2b + delta delta^T na nb / n, mean = ma + delta nb / n. */
    private void combine(long nb, double[] bMean, double[] bM2) {
        long na = count;
        long n = na + nb;
        double[] delta = new double[dim];
        for (int j = 0; j < dim; j++) delta[j] = bMean[j] - mean[j];
        double w = (double) na * (double) nb / (double) n;
        for (int i = 0; i < dim; i++) {
            int o = i * dim;
            double di = delta[i] * w;
            for (int j = 0; j < dim; j++) m2[o + j] += bM2[o + j] + di * delta[j];
        }
        double f = (double) nb / (double) n;
        for (int j = 0; j < dim; j++) mean[j] += delta[j] * f;
        count = n;
    }

    public int dim() {
        return dim;
    }

    public long count() {
        return count;
    }

    public double[] mean() {
        return mean.clone();
    }

    /** Sample covariance (divides by n - 1), d x d row-major. */
    public double[] covariance() {
        double[] c = new double[dim * dim];
        if (count < 2) return c;
        double inv = 1.0 / (count - 1);
        for (int i = 0; i < c.length; i++) c[i] = m2[i] * inv;
        return c;
    }

    /** A deep copy (a Spark zero value must not be shared). */
    public FeatureStats copy() {
        FeatureStats s = new FeatureStats(dim);
        s.count = count;
        System.arraycopy(mean, 0, s.mean, 0, dim);
        System.arraycopy(m2, 0, s.m2, 0, m2.length);
        return s;
    }

    @Override
    public String toString() {
        return "FeatureStats{dim=" + dim + ", count=" + count + ", mean[0..3]=" + Arrays.toString(Arrays.copyOf(mean, Math.min(3, dim))) + "}";
    }
}
