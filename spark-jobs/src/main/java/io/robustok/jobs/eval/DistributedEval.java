package io.robustok.jobs.eval;

import io.robustok.eval.EvalPartial;
import io.robustok.eval.EvalSettings;
import io.robustok.eval.FeatureExtractor;
import io.robustok.eval.FeatureExtractorSpec;
import io.robustok.eval.FidEvaluator;
import io.robustok.eval.Images;
import org.apache.spark.api.java.JavaRDD;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;

/**
 * Feature extraction on Spark (SPEC section 7 at scale): every partition opens its own feature extractor, folds
 * its image batches into an {@link EvalPartial}, and the partials merge with treeAggregate. Because samples
 * carry global indices, the result equals a one-pass evaluation whatever the partitioning.
 */
public final class DistributedEval {
    private DistributedEval() {
    }

    /**
     * A batch of images in ADM's uint8 NHWC layout, with the global index of its first sample. A plain class,
     * not a record: Spark's Kryo 4 cannot serialize records.
     */
    public static final class ImageBatch implements Serializable {
        private static final long serialVersionUID = 1L;
        private long firstIndex;
        private int count, height, width;
        private byte[] pixels;

        ImageBatch() {
        }

        public ImageBatch(long firstIndex, int count, int height, int width, byte[] pixels) {
            this.firstIndex = firstIndex;
            this.count = count;
            this.height = height;
            this.width = width;
            this.pixels = pixels;
        }

        public long firstIndex() {
            return firstIndex;
        }

        public int count() {
            return count;
        }

        public int height() {
            return height;
        }

        public int width() {
            return width;
        }

        public byte[] pixels() {
            return pixels;
        }
    }

    /**
     * Evaluates {@code batches} with the extractor {@code spec}; {@code depth} is the treeAggregate depth.
     * The first partition's extractor defines the empty partial's shape, so empty partitions contribute nothing.
     */
    public static EvalPartial evaluate(JavaRDD<ImageBatch> batches, FeatureExtractorSpec spec, EvalSettings settings, int depth) {
        JavaRDD<EvalPartial> partials = batches.mapPartitions(it -> {
            if (!it.hasNext()) return new ArrayList<EvalPartial>().iterator();
            try (FeatureExtractor fx = spec.open()) {
                FidEvaluator ev = new FidEvaluator(fx, settings);
                while (it.hasNext()) {
                    ImageBatch b = it.next();
                    ev.update(Images.fromBytes(b.pixels(), b.count(), b.height(), b.width()), b.firstIndex());
                }
                return List.of(ev.partial()).iterator();
            }
        });
        EvalPartial merged = partials.treeAggregate(null, DistributedEval::mergeOrFirst, DistributedEval::mergeOrFirst, depth);
        if (merged == null) throw new IllegalArgumentException("no images to evaluate");
        return merged;
    }

    private static EvalPartial mergeOrFirst(EvalPartial a, EvalPartial b) {
        if (a == null) return b;
        if (b == null) return a;
        return a.merge(b);
    }
}
