package io.robustok.tokenizer;

import io.robustok.train.TrainState;
import io.robustok.train.TrainingTask;
import io.robustok.train.Worker;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.Serializable;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decoder post-training (SPEC section 6) for the parameter-averaging master: the trainable state starts from the
 * trained tokenizer's decoder and a freshly initialised discriminator (see {@link PostTrainWorker}).
 *
 * <p>The codebook travels with the task (it is small: K x codeDim floats); the trained tokenizer's decoder weights
 * are driver-only, read by {@link #init()} once.
 *
 * @param <R> one input record (the stage's join of a pair row and its image)
 */
public final class PostTrainTask<R> implements TrainingTask<R, PairBatch> {
    private static final long serialVersionUID = 1L;

    /** Records to minibatches of exactly {@code batchSize} pairs; the last short batch is dropped. */
    @FunctionalInterface
    public interface Batcher<R> extends Serializable {
        Iterator<PairBatch> batches(Iterator<R> records, int batchSize, long seed);
    }

    private final TokenizerConfig cfg;
    private final PostTrainConfig pc;
    private final double gradClip;
    private final Batcher<R> batcher;
    private final float[] codebook;
    /** Driver-only: the trained tokenizer's parameters (decoder/* is the starting point). */
    private final transient Map<String, INDArray> tokenizer;

    /**
     * @param tokenizer the trained tokenizer's weights (the EMA weights of train-tokenizer)
     * @param gradClip  global-norm clip of the decoder's gradients (0: off)
     */
    public PostTrainTask(TokenizerConfig cfg, PostTrainConfig pc, Map<String, INDArray> tokenizer, double gradClip, Batcher<R> batcher) {
        this.cfg = cfg;
        this.pc = pc;
        this.gradClip = gradClip;
        this.batcher = batcher;
        this.tokenizer = tokenizer;
        INDArray cb = tokenizer.get("quantizer/codebook");
        if (cb == null) throw new IllegalArgumentException("tokenizer weights have no quantizer/codebook");
        this.codebook = cb.castTo(DataType.FLOAT).dup('c').data().asFloat();
    }

    @Override
    public String name() {
        return "posttrain";
    }

    @Override
    public TrainState init() {
        if (tokenizer == null) throw new IllegalStateException("init() runs on the driver, where the tokenizer weights are");
        PostTrainWorker w = newWorker();
        TrainState s = w.state().copy();
        for (String k : w.decoderParams().keySet()) {
            INDArray v = tokenizer.get(k);
            if (v == null) throw new IllegalArgumentException("tokenizer weights have no " + k + ": not a tokenizer of this architecture");
            s.params().get(k).assign(v);
        }
        return s;
    }

    @Override
    public PostTrainWorker newWorker() {
        return new PostTrainWorker(cfg, pc, gradClip,
                org.nd4j.linalg.factory.Nd4j.create(codebook, new long[]{cfg.codebookSize(), cfg.codeDim()}, 'c'));
    }

    @Override
    public String workerKey() {
        // the codebook is part of the graph: two tokenizers of one architecture need two workers
        // and so is every setting the step reads (loss weights of the tokenizer's config, post-training's own)
        return "posttrain:" + cfg + ":" + pc + ":" + gradClip + ":" + java.util.Arrays.hashCode(codebook);
    }

    @Override
    public List<String> metricNames() {
        return PostTrainWorker.METRICS;
    }

    @Override
    public int batchSize() {
        return pc.batchSize();
    }

    @Override
    public Iterator<PairBatch> batches(Iterator<R> records, long seed) {
        return batcher.batches(records, pc.batchSize(), seed);
    }

    @Override
    public int size(PairBatch batch) {
        return batch.size();
    }

    /**
     * The post-trained tokenizer: {@code base} (every tensor, bitwise) with the decoder's tensors taken from
     * {@code trained} (e.g. the EMA of the post-training state). Same names, shapes and format as the main one.
     */
    public static Map<String, INDArray> merge(Map<String, INDArray> base, Map<String, INDArray> trained) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : base.entrySet()) {
            INDArray t = e.getKey().startsWith("decoder/") ? trained.get(e.getKey()) : null;
            out.put(e.getKey(), t != null ? t : e.getValue());
        }
        return out;
    }
}
