package io.robustok.eval;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The mergeable state of an evaluation over part of the samples (one Spark partition, one batch loop):
 * feature statistics for FID, Inception Score splits, and optionally the features themselves for
 * precision/recall (which needs every sample's feature, not a summary). {@link #merge} is associative and,
 * because samples carry global indices, order-independent: Spark's treeAggregate gives one-pass numbers.
 */
public final class EvalPartial implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String extractor;
    private final FeatureStats stats;
    private final InceptionScore is;
    private final int keepMax;
    private final List<Chunk> kept = new ArrayList<>();

    /** Plain class, not a record: Spark's Kryo 4 cannot serialize records. */
    private static final class Chunk implements Serializable {
        private static final long serialVersionUID = 1L;
        long firstIndex;
        int count;
        float[] features;

        Chunk() {
        }

        Chunk(long firstIndex, int count, float[] features) {
            this.firstIndex = firstIndex;
            this.count = count;
            this.features = features;
        }

        long firstIndex() {
            return firstIndex;
        }

        int count() {
            return count;
        }

        float[] features() {
            return features;
        }
    }

    /**
     * @param extractor label of the feature network (checked on merge)
     * @param classes   logits per sample (0: no Inception Score)
     * @param keepMax   keep the features of samples with global index below this for precision/recall (0: none)
     */
    public EvalPartial(String extractor, int dim, int classes, int isSplitSize, int keepMax) {
        this.extractor = extractor;
        this.stats = new FeatureStats(dim);
        this.is = classes > 0 ? new InceptionScore(classes, isSplitSize) : null;
        this.keepMax = keepMax;
    }

    /** Adds a batch whose samples have global indices {@code firstIndex ..}. */
    public EvalPartial add(Features f, long firstIndex) {
        stats.update(f.features(), f.count());
        if (is != null && f.hasLogits()) is.update(f.logits(), f.count(), firstIndex);
        if (firstIndex < keepMax) {
            int n = (int) Math.min(f.count(), keepMax - firstIndex);
            kept.add(new Chunk(firstIndex, n, java.util.Arrays.copyOf(f.features(), n * f.dim())));
        }
        return this;
    }

    public EvalPartial merge(EvalPartial other) {
        if (!extractor.equals(other.extractor)) {
            throw new IllegalArgumentException("cannot merge features of " + other.extractor + " into " + extractor);
        }
        stats.merge(other.stats);
        if (is != null && other.is != null) is.merge(other.is);
        kept.addAll(other.kept);
        return this;
    }

    public String extractor() {
        return extractor;
    }

    public FeatureStats stats() {
        return stats;
    }

    public long count() {
        return stats.count();
    }

    /** Inception Score, NaN without logits. */
    public double inceptionScore() {
        return is == null || is.count() == 0 ? Double.NaN : is.result();
    }

    /** Kept features in global-index order (n x dim, row-major). */
    public float[] keptFeatures() {
        List<Chunk> sorted = new ArrayList<>(kept);
        sorted.sort(Comparator.comparingLong(Chunk::firstIndex));
        int n = keptCount();
        float[] out = new float[n * stats.dim()];
        int o = 0;
        for (Chunk c : sorted) {
            System.arraycopy(c.features(), 0, out, o, c.features().length);
            o += c.features().length;
        }
        return out;
    }

    public int keptCount() {
        int n = 0;
        for (Chunk c : kept) n += c.count();
        return n;
    }
}
