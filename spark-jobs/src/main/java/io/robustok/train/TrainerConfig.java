package io.robustok.train;

import com.typesafe.config.Config;
import io.robustok.config.Settings;

import java.io.Serializable;

/**
 * The {@code trainer} section of the config (documented key by key in conf/defaults.conf), as one immutable
 * record. A stage that needs other values (the generator counts steps, the tokenizer epochs) overlays a
 * {@code trainer} block of its own section: {@link #from(Settings, String)}.
 *
 * @param averagingFrequency minibatches per worker between two averagings
 * @param averageUpdater     average optimizer state too; false keeps the driver's previous optimizer state
 * @param epochs             passes over the data
 * @param maxSteps           stop after this many global steps (0: no limit; with lr-schedule = step it is the
 *                           cosine's length)
 * @param lrSchedule         constant, epoch or step (the unit of warmup)
 * @param warmup             warm-up length in epochs or steps
 * @param minLrRatio         final lr / peak lr
 * @param emaDecay           decay of the EMA of weights, per step
 * @param seed               root of every derived seed (data order, augmentation, step draws)
 * @param workers            parameter-averaging workers (partitions per round); 0: Spark's default parallelism
 * @param checkpointEvery    rounds between checkpoints (0: only at the end)
 * @param keepCheckpoints    newest checkpoints kept
 * @param maxBadRounds       consecutive dropped (non-finite) rounds before the stage fails
 * @param gradClip           global-norm clip for the stage's step function (0: none); the master only carries it
 * @param treeDepth          depth of treeAggregate
 * @param stopAfterRounds    end this invocation (with a checkpoint) after this many rounds; 0: run to the end.
 *                           For time-boxed jobs: the next invocation resumes
 * @param configHash         SHA-256 of the resolved config, recorded in checkpoints
 * @param transferFormat     number format of the workers' returned tensors on the wire: float32 (exact, the
 *                           default) or bfloat16 / float16 (lossy: half the bytes; the sum is still accumulated
 *                           in float32)
 * @param networkGbps        network bandwidth between executors and driver, Gbit/s, for the averaging cost
 *                           model's prediction logged at the end of a stage ({@link AveragingCostModel})
 * @param epochSamples       records per epoch, drawn afresh from all of the data each epoch (seeded by the epoch:
 *                           every epoch trains on a different subset); 0 (or at least the data's size) = one
 *                           pass over all records
 * @param aggregation        tree (treeAggregate into the driver) or sharded ({@link ShardedAveraging}: each
 *                           executor sums a slice through the shuffle)
 * @param shards             slices of the state under sharded aggregation; 0: one per worker, more when a slice
 *                           would exceed 128 MB
 */
public record TrainerConfig(int averagingFrequency, boolean averageUpdater, int epochs, long maxSteps,
                            LrSchedule.Mode lrSchedule, double warmup, double minLrRatio, double emaDecay, long seed,
                            int workers, int checkpointEvery, int keepCheckpoints, int maxBadRounds, double gradClip,
                            int treeDepth, int stopAfterRounds, String configHash, TransferFormat transferFormat,
                            double networkGbps, long epochSamples, Aggregation aggregation, int shards)
        implements Serializable {

    /** How the workers' states are summed: one treeAggregate into the driver, or a reduce-scatter through the shuffle. */
    public enum Aggregation {
        TREE, SHARDED;

        static Aggregation parse(String s) {
            for (Aggregation a : values()) if (a.name().equalsIgnoreCase(s)) return a;
            throw new IllegalArgumentException("trainer.aggregation must be tree or sharded, got \"" + s + "\"");
        }
    }

    /** Number format of the tensors a worker returns. */
    public enum TransferFormat {
        FLOAT32, BFLOAT16, FLOAT16;

        static TransferFormat parse(String s) {
            for (TransferFormat f : values()) if (f.name().equalsIgnoreCase(s)) return f;
            throw new IllegalArgumentException("trainer.transfer-format must be float32, bfloat16 or float16, got \"" + s + "\"");
        }
    }

    public TrainerConfig {
        if (averagingFrequency < 1) throw new IllegalArgumentException("trainer.averaging-frequency must be >= 1");
        if (epochs < 0 || maxSteps < 0) throw new IllegalArgumentException("trainer.epochs and trainer.max-steps must be >= 0");
        if (epochs == 0 && maxSteps == 0) throw new IllegalArgumentException("set trainer.epochs or trainer.max-steps");
        if (emaDecay < 0 || emaDecay >= 1) throw new IllegalArgumentException("trainer.ema-decay must be in [0, 1)");
        if (keepCheckpoints < 1) throw new IllegalArgumentException("trainer.keep-checkpoints must be >= 1");
        if (maxBadRounds < 1) throw new IllegalArgumentException("trainer.max-bad-rounds must be >= 1");
        if (treeDepth < 1) throw new IllegalArgumentException("trainer.tree-depth must be >= 1");
        if (workers < 0) throw new IllegalArgumentException("spark.workers must be >= 0 (0: one per core or executor), got " + workers);
        if (checkpointEvery < 0) throw new IllegalArgumentException("trainer.checkpoint-every must be >= 0, got " + checkpointEvery);
        if (gradClip < 0) throw new IllegalArgumentException("trainer.grad-clip must be >= 0, got " + gradClip);
        if (stopAfterRounds < 0) throw new IllegalArgumentException("trainer.stop-after-rounds must be >= 0, got " + stopAfterRounds);
        if (configHash == null) configHash = "";
        if (transferFormat == null) transferFormat = TransferFormat.FLOAT32;
        if (epochSamples < 0) throw new IllegalArgumentException("trainer.epoch-samples must be >= 0 (0: all records), got " + epochSamples);
        if (aggregation == null) aggregation = Aggregation.TREE;
        if (shards < 0) throw new IllegalArgumentException("trainer.shards must be >= 0 (0: one per worker), got " + shards);
        if (aggregation == Aggregation.SHARDED && transferFormat != TransferFormat.FLOAT32) {
            throw new IllegalArgumentException("trainer.transfer-format = " + transferFormat.name().toLowerCase(java.util.Locale.ROOT)
                    + " applies to trainer.aggregation = tree only; sharded aggregation sends float32");
        }
        if (!(networkGbps > 0) || Double.isInfinite(networkGbps)) {
            throw new IllegalArgumentException("trainer.network-gbps must be a positive number of Gbit/s, got " + networkGbps);
        }
    }

    /** The {@code trainer} section alone (plus spark.workers when the config has it). */
    public static TrainerConfig from(Config root) {
        Config t = root.getConfig("trainer");
        int workers = root.hasPath("spark.workers") ? root.getInt("spark.workers") : 0;
        return fromSection(t, workers, "");
    }

    /**
     * {@code trainer}, overlaid by {@code <stageSection>.trainer} when that exists (e.g. tokenizer.trainer
     * { epochs = 200, warmup = 1 }), with the config hash of {@code settings}.
     */
    public static TrainerConfig from(Settings settings, String stageSection) {
        Config root = settings.config();
        Config t = root.getConfig("trainer");
        String over = stageSection + ".trainer";
        if (stageSection != null && root.hasPath(over)) t = root.getConfig(over).withFallback(t);
        return fromSection(t, root.getInt("spark.workers"), settings.hash());
    }

    private static TrainerConfig fromSection(Config t, int workers, String hash) {
        return new TrainerConfig(t.getInt("averaging-frequency"), t.getBoolean("average-updater"), t.getInt("epochs"),
                t.getLong("max-steps"), LrSchedule.Mode.parse(t.getString("lr-schedule")), t.getDouble("warmup"),
                t.getDouble("min-lr-ratio"), t.getDouble("ema-decay"), t.getLong("seed"), workers,
                t.getInt("checkpoint-every"), t.getInt("keep-checkpoints"), t.getInt("max-bad-rounds"),
                t.getDouble("grad-clip"), t.getInt("tree-depth"), t.getInt("stop-after-rounds"), hash,
                TransferFormat.parse(t.getString("transfer-format")), t.getDouble("network-gbps"), t.getLong("epoch-samples"),
                Aggregation.parse(t.getString("aggregation")), t.getInt("shards"));
    }

    /** Test and benchmark defaults: frequency 1, one epoch, constant lr, no EMA smoothing to speak of. */
    public static TrainerConfig simple(int workers, int averagingFrequency, int epochs, long seed) {
        return new TrainerConfig(averagingFrequency, true, epochs, 0, LrSchedule.Mode.CONSTANT, 0, 1, 0.9, seed, workers,
                0, 2, 3, 0, 2, 0, "", TransferFormat.FLOAT32, AveragingCostModel.DEFAULT_GBPS, 0, Aggregation.TREE, 0);
    }

    /** The schedule for a data set of {@code stepsPerEpoch} steps per epoch. */
    public LrSchedule schedule(long stepsPerEpoch) {
        return switch (lrSchedule) {
            case CONSTANT -> LrSchedule.constant();
            case EPOCH -> new LrSchedule(lrSchedule, warmup,
                    maxSteps > 0 ? Math.min(epochs > 0 ? epochs : Double.MAX_VALUE, maxSteps / (double) Math.max(1, stepsPerEpoch)) : epochs,
                    minLrRatio);
            case STEP -> new LrSchedule(lrSchedule, warmup,
                    maxSteps > 0 ? (epochs > 0 ? Math.min(maxSteps, (long) epochs * stepsPerEpoch) : maxSteps) : (double) epochs * stepsPerEpoch,
                    minLrRatio);
        };
    }

    public TrainerConfig withEpochSamples(long n) {
        return new TrainerConfig(averagingFrequency, averageUpdater, epochs, maxSteps, lrSchedule, warmup, minLrRatio, emaDecay,
                seed, workers, checkpointEvery, keepCheckpoints, maxBadRounds, gradClip, treeDepth, stopAfterRounds, configHash, transferFormat, networkGbps, n, aggregation, shards);
    }

    public TrainerConfig withEpochs(int e) {
        return new TrainerConfig(averagingFrequency, averageUpdater, e, maxSteps, lrSchedule, warmup, minLrRatio, emaDecay,
                seed, workers, checkpointEvery, keepCheckpoints, maxBadRounds, gradClip, treeDepth, stopAfterRounds, configHash, transferFormat, networkGbps, epochSamples, aggregation, shards);
    }

    public TrainerConfig withCheckpointEvery(int every) {
        return new TrainerConfig(averagingFrequency, averageUpdater, epochs, maxSteps, lrSchedule, warmup, minLrRatio, emaDecay,
                seed, workers, every, keepCheckpoints, maxBadRounds, gradClip, treeDepth, stopAfterRounds, configHash, transferFormat, networkGbps, epochSamples, aggregation, shards);
    }

    public TrainerConfig withStopAfterRounds(int rounds) {
        return new TrainerConfig(averagingFrequency, averageUpdater, epochs, maxSteps, lrSchedule, warmup, minLrRatio, emaDecay,
                seed, workers, checkpointEvery, keepCheckpoints, maxBadRounds, gradClip, treeDepth, rounds, configHash, transferFormat, networkGbps, epochSamples, aggregation, shards);
    }

    public TrainerConfig withAverageUpdater(boolean avg) {
        return new TrainerConfig(averagingFrequency, avg, epochs, maxSteps, lrSchedule, warmup, minLrRatio, emaDecay,
                seed, workers, checkpointEvery, keepCheckpoints, maxBadRounds, gradClip, treeDepth, stopAfterRounds, configHash, transferFormat, networkGbps, epochSamples, aggregation, shards);
    }

    public TrainerConfig withSchedule(LrSchedule.Mode mode, double warmup, double minLrRatio) {
        return new TrainerConfig(averagingFrequency, averageUpdater, epochs, maxSteps, mode, warmup, minLrRatio, emaDecay,
                seed, workers, checkpointEvery, keepCheckpoints, maxBadRounds, gradClip, treeDepth, stopAfterRounds, configHash, transferFormat, networkGbps, epochSamples, aggregation, shards);
    }

    /** Workers and averaging frequency replaced (benchmarks sweep them). */
    public TrainerConfig withWorkers(int w, int frequency) {
        return new TrainerConfig(frequency, averageUpdater, epochs, maxSteps, lrSchedule, warmup, minLrRatio, emaDecay,
                seed, w, checkpointEvery, keepCheckpoints, maxBadRounds, gradClip, treeDepth, stopAfterRounds, configHash,
                transferFormat, networkGbps, epochSamples, aggregation, shards);
    }

    public TrainerConfig withTransferFormat(TransferFormat f) {
        return new TrainerConfig(averagingFrequency, averageUpdater, epochs, maxSteps, lrSchedule, warmup, minLrRatio, emaDecay,
                seed, workers, checkpointEvery, keepCheckpoints, maxBadRounds, gradClip, treeDepth, stopAfterRounds, configHash,
                f, networkGbps, epochSamples, aggregation, shards);
    }

    public TrainerConfig withAggregation(Aggregation a, int shardCount) {
        return new TrainerConfig(averagingFrequency, averageUpdater, epochs, maxSteps, lrSchedule, warmup, minLrRatio, emaDecay,
                seed, workers, checkpointEvery, keepCheckpoints, maxBadRounds, gradClip, treeDepth, stopAfterRounds, configHash,
                transferFormat, networkGbps, epochSamples, a, shardCount);
    }

    public TrainerConfig withMaxBadRounds(int n) {
        return new TrainerConfig(averagingFrequency, averageUpdater, epochs, maxSteps, lrSchedule, warmup, minLrRatio, emaDecay,
                seed, workers, checkpointEvery, keepCheckpoints, n, gradClip, treeDepth, stopAfterRounds, configHash, transferFormat, networkGbps, epochSamples, aggregation, shards);
    }
}
