package io.robustok.train;

import java.io.Serializable;
import java.util.Iterator;
import java.util.List;

/**
 * What a training stage hands to the parameter-averaging master (spark-jobs, {@code ParameterAveragingMaster}).
 * The master knows nothing of tokenizers or generators: it moves {@link TrainState}s between the driver and
 * the executors, averages them and keeps the driver-side state (EMA, lr schedule, checkpoints).
 *
 * <p>A task is serialised into every Spark task, so it holds only configuration (records, numbers, strings);
 * the heavy objects (SameDiff graphs) live in the {@link Worker} that {@link #newWorker()} builds once per
 * executor JVM.
 *
 * @param <R> one input record (a decoded image row, a token row)
 * @param <B> one minibatch
 */
public interface TrainingTask<R, B> extends Serializable {

    /** Short name used in logs, metrics files and checkpoint provenance, e.g. "tokenizer". */
    String name();

    /** Parameters and optimizer state at step 0, built on the driver from the task's seed. */
    TrainState init();

    /**
     * The executor-side worker. Called at most once per executor JVM and per task identity
     * ({@link #workerKey()}); the master caches the result.
     */
    Worker<B> newWorker();

    /** Identity of the worker's architecture: two tasks with the same key may share a cached worker. */
    String workerKey();

    /** Names of the numbers {@link Worker#step} returns, in order (e.g. "loss", "rec", "gan", "psnr"). */
    List<String> metricNames();

    /** Minibatch size per worker (per executor) and step. */
    int batchSize();

    /**
     * Turns records of one partition into minibatches of {@link #batchSize()} (the last short batch is
     * dropped). {@code seed} is distinct per (epoch, round, partition), for augmentation.
     */
    Iterator<B> batches(Iterator<R> records, long seed);

    /** Number of samples in a batch, the weight of this worker's parameters in the average. */
    int size(B batch);
}
