package io.robustok.jobs;

import io.robustok.cli.StageContext;
import io.robustok.cli.UserError;
import io.robustok.data.ImageBatcher;
import io.robustok.data.ImageParquet;
import io.robustok.data.ImageRecord;
import io.robustok.data.ImageShards;
import io.robustok.spark.StageOutput;
import io.robustok.tokenizer.ImageBatch;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/** The prep output as training and evaluation stages read it. */
public final class ImageData {
    private final String dir;
    private final JavaSparkContext jsc;
    private final long seed;
    private final double maxScale;
    private final boolean flip;

    private ImageData(String dir, JavaSparkContext jsc, long seed, double maxScale, boolean flip) {
        this.dir = dir;
        this.jsc = jsc;
        this.seed = seed;
        this.maxScale = maxScale;
        this.flip = flip;
    }

    public static ImageData of(StageContext ctx) {
        String dir = ctx.settings().config().getString("data.parquet");
        if (!StageOutput.isComplete(dir)) {
            throw new UserError("no complete prep output at " + dir + ": run 'robustok prep' first (or the pipeline)");
        }
        ImageShards.verify(dir);
        return new ImageData(dir, ctx.jsc(), ctx.settings().config().getLong("run.seed"),
                ctx.settings().config().getDouble("data.max-scale"), ctx.settings().config().getBoolean("data.flip"));
    }

    public String dir() {
        return dir;
    }

    /**
     * The train split; with {@code limit > 0} a seeded sample of about that many images across all classes
     * (the shards are sorted by class, so a prefix would not do).
     */
    public JavaRDD<ImageRecord> train(long limit) {
        return split("train", limit);
    }

    public JavaRDD<ImageRecord> split(String split, long limit) {
        JavaRDD<ImageRecord> rdd = ImageShards.rdd(jsc, dir, split);
        if (limit <= 0) return rdd;
        long n = rdd.count();
        if (limit >= n) return rdd;
        return rdd.sample(false, Math.min(1.0, 1.02 * limit / n), seed);
    }

    /** A fixed subset of the val split (every k-th image, so all classes appear), eval transform, on the driver. */
    public List<ImageRecord> valRecords(int n) {
        List<ImageRecord> all = ImageParquet.readSplit(dir, "val");
        if (all.isEmpty()) throw new UserError("no val shards under " + dir + ": run prep first");
        List<ImageRecord> out = new ArrayList<>();
        double step = Math.max(1.0, all.size() / (double) n);
        for (double i = 0; i < all.size() && out.size() < n; i += step) out.add(all.get((int) i));
        return out;
    }

    public INDArray valImages(int n, int size) {
        try (ImageBatcher b = ImageBatcher.eval(size)) {
            return b.batch(valRecords(n), 0).images();
        }
    }

    public Map<String, Object> provenance() {
        return Map.of("path", dir, "prep", StageOutput.readProvenance(dir));
    }

    /**
     * Minibatches of exactly {@code batchSize} augmented images (random resized crop + flip, SPEC section 2; no flip
     * with {@code flip} false); the last short batch is dropped. Runs inside the training tasks.
     */
    public static Iterator<ImageBatch> trainBatches(Iterator<ImageRecord> records, int batchSize, int size,
                                                    double maxScale, boolean flip, long seed) {
        ImageBatcher batcher = ImageBatcher.train(size, maxScale, flip);
        return new Iterator<>() {
            private int index;
            private ImageBatch next = fill();

            private ImageBatch fill() {
                List<ImageRecord> buf = new ArrayList<>(batchSize);
                while (buf.size() < batchSize && records.hasNext()) buf.add(records.next());
                if (buf.size() < batchSize) {
                    batcher.close();
                    return null;
                }
                ImageBatcher.Minibatch m = batcher.batch(buf, seed * 1_000_003L + index++);
                return new ImageBatch(m.images(), m.labels());
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public ImageBatch next() {
                if (next == null) throw new NoSuchElementException();
                ImageBatch b = next;
                next = fill();
                return b;
            }
        };
    }

    public double maxScale() {
        return maxScale;
    }

    /** {@code data.flip}: whether the train transform flips. */
    public boolean flip() {
        return flip;
    }
}
