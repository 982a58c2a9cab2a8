package io.robustok.tokenizer;

import org.nd4j.linalg.api.ndarray.INDArray;

import io.robustok.train.StepContext;
import io.robustok.train.TrainState;
import io.robustok.train.TrainingTask;
import io.robustok.train.Worker;

import java.io.Serializable;
import java.util.Iterator;
import java.util.List;

/**
 * Main training of the tokenizer (SPEC sections 2-3) for the parameter-averaging master. A step is: the
 * perturbation draw, the generator forward with all losses and one backward, AdamW on the tokenizer; then, once the
 * GAN is on, the discriminator step. See {@link TokenizerWorker#step}.
 *
 * <p>The record type is the stage glue's choice: it passes a {@link Batcher} that turns a partition's records into
 * {@link ImageBatch}es of {@link #batchSize()} images (e.g. the data-prep reader of Parquet rows).
 *
 * @param <R> one input record
 */
public final class TokenizerTask<R> implements TrainingTask<R, ImageBatch> {
    private static final long serialVersionUID = 1L;

    /** Records to minibatches of exactly {@code batchSize} images in [-1, 1]; the last short batch is dropped. */
    @FunctionalInterface
    public interface Batcher<R> extends Serializable {
        Iterator<ImageBatch> batches(Iterator<R> records, int batchSize, long seed);
    }

    private final TokenizerConfig cfg;
    private final double gradClip;
    private final Batcher<R> batcher;
    /** Driver-only: images for the data-dependent codebook init (null: random codes). */
    private transient INDArray codebookInitImages;
    /** Driver-only: codebook init uniform(+-1/K) (the official initialisation) instead of N(0, 1) rows. */
    private transient boolean uniformCodebook;
    /** Driver-only: images whose mean patch initialises the decoder head's bias (null: zero bias). */
    private transient INDArray headInitImages;
    private transient boolean headZeroWeights;

    /**
     * @param cfg      the tokenizer section
     * @param gradClip global-norm clip of the tokenizer's gradients (trainer.grad-clip; 0: off, the paper's setting)
     * @param batcher  records to image batches
     */
    public TokenizerTask(TokenizerConfig cfg, double gradClip, Batcher<R> batcher) {
        this.cfg = cfg;
        this.gradClip = gradClip;
        this.batcher = batcher;
    }

    @Override
    public String name() {
        return "tokenizer";
    }

    /** Initial codebook from the untrained encoder's outputs on these images (see TokenizerWorker#initCodebookFromData). */
    public TokenizerTask<R> withCodebookInit(INDArray images) {
        this.codebookInitImages = images;
        return this;
    }

    /** Initial codebook uniform in [-1/K, 1/K] per entry (then l2-normalised in the graph, as every code is). */
    public TokenizerTask<R> withUniformCodebookInit() {
        this.uniformCodebook = true;
        return this;
    }

    /**
     * Decoder head bias from the mean pixel patch of these images, and zero head weights if {@code zeroWeights}
     * (see TokenizerWorker#initHeadFromData).
     */
    public TokenizerTask<R> withHeadInit(INDArray images, boolean zeroWeights) {
        this.headInitImages = images;
        this.headZeroWeights = zeroWeights;
        return this;
    }

    @Override
    public TrainState init() {
        TokenizerWorker w = new TokenizerWorker(cfg, gradClip);
        if (codebookInitImages != null) w.initCodebookFromData(codebookInitImages, cfg.seed() + 17);
        if (uniformCodebook) w.initCodebookUniform(cfg.seed() + 17);
        if (headInitImages != null) w.initHeadFromData(headInitImages, headZeroWeights);
        return w.state().copy();
    }

    @Override
    public Worker<ImageBatch> newWorker() {
        return new TokenizerWorker(cfg, gradClip);
    }

    @Override
    public String workerKey() {
        // every setting the worker's step reads (perturbation schedule, loss weights, lr, ...), not only the
        // architecture: two trainings in one JVM (a sweep's variants) that differ in any of them must not share a worker
        return "tokenizer:" + cfg + ":" + gradClip;
    }

    @Override
    public List<String> metricNames() {
        return TokenizerWorker.METRICS;
    }

    @Override
    public int batchSize() {
        return cfg.batchSize();
    }

    @Override
    public Iterator<ImageBatch> batches(Iterator<R> records, long seed) {
        return batcher.batches(records, cfg.batchSize(), seed);
    }

    @Override
    public int size(ImageBatch batch) {
        return batch.size();
    }

    public TokenizerConfig config() {
        return cfg;
    }

    /** A batcher for records that are CHW float images in [-1, 1] (no augmentation). */
    public static Batcher<float[]> chwBatcher(int imageSize) {
        return (records, batchSize, seed) -> new Iterator<>() {
            private ImageBatch next = fill();

            private ImageBatch fill() {
                int per = 3 * imageSize * imageSize;
                float[] buf = new float[batchSize * per];
                for (int i = 0; i < batchSize; i++) {
                    if (!records.hasNext()) return null;
                    float[] r = records.next();
                    if (r.length != per) throw new IllegalArgumentException("record of " + r.length + " floats, expected " + per);
                    System.arraycopy(r, 0, buf, i * per, per);
                }
                return new ImageBatch(org.nd4j.linalg.factory.Nd4j.create(buf, new long[]{batchSize, 3, imageSize, imageSize}), null);
            }

            @Override
            public boolean hasNext() {
                return next != null;
            }

            @Override
            public ImageBatch next() {
                if (next == null) throw new java.util.NoSuchElementException();
                ImageBatch b = next;
                next = fill();
                return b;
            }
        };
    }

    /** Unused by the master; documents how a step is addressed. */
    static StepContext stepAt(long step, double epoch, long seed) {
        return new StepContext(step, (int) Math.floor(epoch), epoch, 1.0, seed);
    }
}
