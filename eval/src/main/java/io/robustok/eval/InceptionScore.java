package io.robustok.eval;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * Inception Score as ADM's evaluator computes it (SPEC section 7): samples are cut, in order, into splits of
 * {@code splitSize} (5000: ten splits of the 50k samples; the last split may be short), each split scores
 * {@code exp(mean_i KL(p(y|x_i) || p(y)))} with p(y) the split's mean prediction, and the score is the mean
 * over splits (ADM reports no standard deviation).
 *
 * <p>Mergeable: per split it keeps only the count, {@code sum_i p_i} and {@code sum_i sum_y p_iy log p_iy},
 * since {@code sum_i KL_i = sum_i sum_y p log p - sum_y S_y log(S_y / n)}. A sample's split is fixed by its
 * global index, so Spark partitions fold in any order and give ADM's number. Softmax in float64;
 * {@code 0 log 0 = 0}.
 */
public final class InceptionScore implements Serializable {
    private static final long serialVersionUID = 1L;
    /** ADM's split size. */
    public static final int ADM_SPLIT_SIZE = 5000;

    private final int splitSize;
    private final int classes;
    private final TreeMap<Long, Split> splits = new TreeMap<>();

    private static final class Split implements Serializable {
        private static final long serialVersionUID = 1L;
        long n;
        double plogp;
        final double[] sumP;

        Split(int classes) {
            sumP = new double[classes];
        }
    }

    public InceptionScore(int classes, int splitSize) {
        if (classes <= 0 || splitSize <= 0) throw new IllegalArgumentException("classes and split size must be positive");
        this.classes = classes;
        this.splitSize = splitSize;
    }

    /**
     * Adds {@code n} samples' logits (row-major, n x classes), whose global sample indices are
     * {@code firstIndex .. firstIndex + n - 1}.
     */
    public InceptionScore update(float[] logits, int n, long firstIndex) {
        double[] p = new double[classes];
        for (int r = 0; r < n; r++) {
            int o = r * classes;
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < classes; c++) max = Math.max(max, logits[o + c]);
            double z = 0;
            for (int c = 0; c < classes; c++) {
                p[c] = Math.exp(logits[o + c] - max);
                z += p[c];
            }
            Split s = splits.computeIfAbsent((firstIndex + r) / splitSize, k -> new Split(classes));
            s.n++;
            for (int c = 0; c < classes; c++) {
                double pc = p[c] / z;
                s.sumP[c] += pc;
                if (pc > 0) s.plogp += pc * Math.log(pc);
            }
        }
        return this;
    }

    /** Folds another partition's splits into these (in place). */
    public InceptionScore merge(InceptionScore other) {
        if (other.classes != classes || other.splitSize != splitSize) {
            throw new IllegalArgumentException("cannot merge Inception scores of different classes or split sizes");
        }
        for (Map.Entry<Long, Split> e : other.splits.entrySet()) {
            Split s = splits.computeIfAbsent(e.getKey(), k -> new Split(classes));
            Split o = e.getValue();
            s.n += o.n;
            s.plogp += o.plogp;
            for (int c = 0; c < classes; c++) s.sumP[c] += o.sumP[c];
        }
        return this;
    }

    public long count() {
        long n = 0;
        for (Split s : splits.values()) n += s.n;
        return n;
    }

    /** Mean over splits of the per-split score; NaN with no samples. */
    public double result() {
        if (splits.isEmpty()) return Double.NaN;
        double sum = 0;
        for (Split s : splits.values()) {
            double kl = s.plogp;
            for (int c = 0; c < classes; c++) {
                if (s.sumP[c] > 0) kl -= s.sumP[c] * Math.log(s.sumP[c] / s.n);
            }
            sum += Math.exp(kl / s.n);
        }
        return sum / splits.size();
    }

    public int splits() {
        return splits.size();
    }
}
