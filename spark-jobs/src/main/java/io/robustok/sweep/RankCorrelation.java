package io.robustok.sweep;

import org.apache.commons.math3.random.RandomGenerator;
import org.apache.commons.math3.random.Well19937c;
import org.apache.commons.math3.stat.correlation.KendallsCorrelation;
import org.apache.commons.math3.stat.correlation.SpearmansCorrelation;
import org.apache.commons.math3.stat.descriptive.rank.Percentile;

import java.util.Arrays;
import java.util.function.ToDoubleBiFunction;

/**
 * Rank correlations across a sweep's variants (does a cheaper metric order the variants as gFID does?), from
 * Apache Commons Math: Spearman's rho (Pearson's r of the ranks, ties ranked by their average) and Kendall's
 * tau-b (ties in either variable leave the pair out of numerator and denominator), with a percentile bootstrap
 * interval over the variants.
 */
public final class RankCorrelation {
    private RankCorrelation() {
    }

    /** An estimate and its bootstrap interval; {@code resamples} counts the resamples where the statistic exists. */
    public record Interval(double estimate, double low, double high, int resamples) {
    }

    public static double spearman(double[] x, double[] y) {
        return new SpearmansCorrelation().correlation(x, y);
    }

    public static double kendall(double[] x, double[] y) {
        return new KendallsCorrelation().correlation(x, y);
    }

    /**
     * The statistic on (x, y) and a {@code level} percentile interval over {@code resamples} draws of the variants
     * with replacement (seeded). A draw in which x or y is constant has no rank correlation and is skipped.
     */
    public static Interval bootstrap(double[] x, double[] y, ToDoubleBiFunction<double[], double[]> stat, int resamples,
                                     double level, long seed) {
        if (x.length != y.length) throw new IllegalArgumentException("x and y differ in length");
        double est = x.length < 2 ? Double.NaN : stat.applyAsDouble(x, y);
        RandomGenerator rnd = new Well19937c(seed);
        double[] got = new double[resamples];
        int k = 0;
        int n = x.length;
        double[] bx = new double[n], by = new double[n];
        for (int b = 0; b < resamples && n >= 2; b++) {
            for (int i = 0; i < n; i++) {
                int j = rnd.nextInt(n);
                bx[i] = x[j];
                by[i] = y[j];
            }
            if (constant(bx) || constant(by)) continue;
            double v = stat.applyAsDouble(bx, by);
            if (!Double.isNaN(v)) got[k++] = v;
        }
        if (k == 0) return new Interval(est, Double.NaN, Double.NaN, 0);
        double[] kept = Arrays.copyOf(got, k);
        Percentile p = new Percentile().withEstimationType(Percentile.EstimationType.R_7);
        double tail = (1 - level) / 2 * 100;
        return new Interval(est, p.evaluate(kept, Math.max(tail, 1e-9)), p.evaluate(kept, 100 - tail), k);
    }

    private static boolean constant(double[] a) {
        for (double v : a) if (v != a[0]) return false;
        return true;
    }
}
