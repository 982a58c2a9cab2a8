package io.robustok.train;

import io.robustok.spark.FaultPoint;
import io.robustok.spark.Provenance;
import io.robustok.spark.StageOutput;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.rdd.PartitionPruningRDD;
import org.apache.spark.rdd.RDD;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;
import scala.runtime.AbstractFunction1;

import java.io.Serializable;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The one trainer of every training stage: synchronous parameter averaging on Spark primitives, with the
 * semantics of DL4J's ParameterAveragingTrainingMaster, for models made of several SameDiff networks.
 *
 * <p>A round, read top to bottom in {@link #fit}: the driver broadcasts the current {@link TrainState}; each of
 * W partitions borrows its executor's cached {@link Worker}, loads the state, runs up to averaging-frequency
 * minibatches through {@link Worker#step}, and returns its parameters (and optimizer state) times its sample
 * count; treeAggregate sums them (or, with trainer.aggregation = sharded, the executors sum them slice by slice
 * through the shuffle: {@link ShardedAveraging}) and the driver divides by the total. Then EMA, metrics, checkpoint.
 *
 * <p>Data: each epoch the records are put in a seeded pseudo-random order (a bijection of their index, no
 * materialised permutation) and shuffled ONCE into rounds x W partitions; round r runs on partitions
 * [r W, (r+1) W) only, read straight from the shuffle files. One shuffle per epoch, W tasks per round.
 *
 * <p>Everything random derives from (seed, epoch, round, worker, step), so a run resumed from its newest
 * checkpoint ({@code <outDir>/checkpoints}, found automatically) ends with the same weights as one that never
 * stopped. The sum over workers is added in Spark's task-completion order, which is exact for two workers
 * (a + b = b + a) and reproducible to float rounding beyond that.
 */
public final class ParameterAveragingMaster {
    private static final Logger log = LoggerFactory.getLogger(ParameterAveragingMaster.class);

    private ParameterAveragingMaster() {
    }

    /**
     * What training produced.
     *
     * @param state          final parameters and optimizer state
     * @param ema            EMA of the parameters (what later stages use)
     * @param progress       counters at the end
     * @param finished       false when the invocation stopped early (trainer.stop-after-rounds)
     * @param lastCheckpoint path of the newest checkpoint
     * @param resumedFrom    checkpoint this invocation started from, or null
     * @param metricsPath    the metrics.jsonl file
     */
    public record FitResult(TrainState state, Map<String, INDArray> ema, Checkpoints.Progress progress, boolean finished,
                            String lastCheckpoint, String resumedFrom, String metricsPath) {
    }

    /** {@link #fit(JavaRDD, TrainingTask, TrainerConfig, String)} with {@code epochs} in place of trainer.epochs. */
    public static <R, B> FitResult fit(JavaRDD<R> data, TrainingTask<R, B> task, TrainerConfig cfg, String outDir, int epochs) {
        return fit(data, task, cfg.withEpochs(epochs), outDir);
    }

    /**
     * Trains {@code task} on {@code data}, resuming from the newest checkpoint under {@code outDir/checkpoints}
     * if there is one. {@code outDir} must be stable across reruns (not a stage's temporary output directory):
     * e.g. {@code <run.out>/<stage>.train}; it receives checkpoints/ and metrics.jsonl.
     *
     * <p>{@code data} must list the same records in the same order each time it is computed (a Parquet read,
     * a parallelized list); its partitioning does not matter.
     *
     * @throws CheckpointMismatchException when outDir holds a checkpoint of another architecture
     * @throws TrainingDivergedException   after trainer.max-bad-rounds consecutive non-finite rounds
     */
    public static <R, B> FitResult fit(JavaRDD<R> data, TrainingTask<R, B> task, TrainerConfig cfg, String outDir) {
        return fit(data, task, cfg, outDir, null);
    }

    /**
     * Called on the driver after each completed epoch, once its checkpoint is written (per-epoch validation,
     * image grids). Each epoch is announced once: a rerun resumed from a checkpoint announces only the epochs
     * it completes itself (a crash inside the listener is not replayed: the epoch's checkpoint is already written).
     */
    @FunctionalInterface
    public interface EpochListener {
        /** @param epoch epochs completed (1-based) */
        void epochEnd(int epoch, TrainState state, Map<String, INDArray> ema);

        /**
         * Called on the driver after every kept round, before that round's checkpoint is written (so a checkpoint
         * past a point means this call for that point returned; a crash in between replays the round).
         *
         * @param step       steps completed
         * @param totalSteps steps of the whole run
         */
        default void roundEnd(long step, long totalSteps, Map<String, INDArray> ema) {
        }
    }

    /** {@link #fit(JavaRDD, TrainingTask, TrainerConfig, String)} with a per-epoch callback (may be null). */
    public static <R, B> FitResult fit(JavaRDD<R> data, TrainingTask<R, B> task, TrainerConfig cfg, String outDir,
                                       EpochListener listener) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(data.context());
        int workers = cfg.workers() > 0 ? cfg.workers() : jsc.defaultParallelism();
        long rows = data.count();
        // trainer.epoch-samples: each epoch a fresh seeded draw of that many records from all of them
        long perEpoch = cfg.epochSamples() > 0 ? Math.min(rows, cfg.epochSamples()) : rows;
        EpochPlan plan = new EpochPlan(perEpoch, workers, cfg.averagingFrequency(), task.batchSize());
        if (plan.rounds() == 0) {
            throw new IllegalArgumentException(task.name() + ": " + rows + " records are fewer than workers x batch = "
                    + workers + " x " + task.batchSize() + "; use fewer workers or a smaller batch");
        }
        long stepsPerEpoch = plan.stepsPerEpoch();
        long totalSteps = cfg.epochs() > 0 ? (long) cfg.epochs() * stepsPerEpoch : Long.MAX_VALUE;
        if (cfg.maxSteps() > 0) totalSteps = Math.min(totalSteps, cfg.maxSteps());
        int epochs = (int) ((totalSteps + stepsPerEpoch - 1) / stepsPerEpoch);
        LrSchedule schedule = cfg.schedule(stepsPerEpoch);

        StageOutput.requireWritable(outDir);
        // Starting point: the newest compatible checkpoint, else the task's initial state.
        TrainState state = task.init();
        Checkpoints ckpts = new Checkpoints(outDir + "/checkpoints", cfg.keepCheckpoints());
        ckpts.cleanTemporary();
        Optional<Checkpoints.Loaded> loaded = ckpts.latest(state);
        Ema ema = new Ema(cfg.emaDecay(), state.params());
        Checkpoints.Progress progress = Checkpoints.Progress.start();
        String resumedFrom = null;
        String lastCheckpoint = null;
        if (loaded.isPresent()) {
            Checkpoints.Loaded c = loaded.get();
            state = c.state();
            ema.restore(c.ema());
            progress = c.progress();
            resumedFrom = lastCheckpoint = c.path();
            Object savedRows = c.meta().get("data_rows");
            if (savedRows instanceof Number n && n.longValue() != perEpoch) {
                log.warn("{}: epochs of {} records, the checkpoint was trained on {}; the epoch layout changes", task.name(), perEpoch, n);
            }
            if (!cfg.configHash().isEmpty() && !cfg.configHash().equals(c.meta().get("config_sha256"))) {
                log.warn("{}: resuming under a different config than the checkpoint's ({})", task.name(), c.path());
            }
            log.info("{}: resuming from {} (epoch {}, round {} of the epoch, step {})", task.name(), c.path(),
                    progress.epoch(), progress.roundInEpoch(), progress.step());
        }
        log.info("{}: {} records{}, {} workers x batch {} x frequency {} -> {} rounds / {} steps per epoch, {} epochs, "
                        + "{} parameters, lr schedule {}", task.name(), rows, perEpoch < rows ? " (" + perEpoch + " drawn per epoch)" : "", workers, task.batchSize(), cfg.averagingFrequency(),
                plan.rounds(), stepsPerEpoch, epochs, state.parameterCount(), schedule);

        Map<String, Object> meta = checkpointMeta(task, cfg, plan);
        long stateBytes = bytes(state);
        ShardedAveraging.Layout layout = cfg.aggregation() == TrainerConfig.Aggregation.SHARDED
                ? ShardedAveraging.Layout.of(state, cfg.averageUpdater(),
                        ShardedAveraging.shardCount(cfg.shards(), stateBytes, workers)) : null;
        checkTransferLimits(jsc.getConf(), sentBytes(state, cfg), cfg.aggregation(), layout, task.name());
        if (layout != null) {
            log.info("{}: sharded aggregation, {} slices of ~{} MB", task.name(), layout.shards(),
                    String.format(Locale.ROOT, "%.1f", layout.total() * 4.0 / layout.shards() / 1e6));
        }
        JavaPairRDD<R, Long> indexed = data.zipWithIndex();
        List<String> metricNames = task.metricNames();
        long roundsThisRun = 0;
        boolean savedAtEnd = loaded.isPresent();
        boolean finished = true;
        double runSec = 0;
        double overheadSec = 0;
        double stepSec = 0;
        long stepsThisRun = 0;
        try (MetricsLog metrics = MetricsLog.open(outDir + "/metrics.jsonl", progress.round())) {
            outer:
            for (int epoch = progress.epoch(); epoch < epochs; epoch++) {
                JavaRDD<R> epochData = null;
                int firstRound = epoch == progress.epoch() ? progress.roundInEpoch() : 0;
                for (int r = firstRound; r < plan.rounds(); r++) {
                    if (progress.step() >= totalSteps) break outer;
                    if (cfg.stopAfterRounds() > 0 && roundsThisRun == cfg.stopAfterRounds()) {
                        finished = false;
                        break outer;
                    }
                    if (epochData == null) epochData = shuffle(indexed, rows, plan, cfg.seed(), epoch);
                    int steps = (int) Math.min(plan.stepsInRound(r), totalSteps - progress.step());
                    RoundSpec spec = spec(epoch, r, progress, steps, plan, schedule, cfg);

                    // 1. broadcast, 2. local steps on every worker, 3. sum
                    long t0 = System.nanoTime();
                    Broadcast<TrainState> bState = jsc.broadcast(state);
                    double bcastSec = (System.nanoTime() - t0) / 1e9;
                    long submitUs = RoundResult.nowUs();
                    JavaRDD<R> roundData = partitions(epochData, r * workers, (r + 1) * workers);
                    RoundResult res = layout != null ? runRoundSharded(roundData, task, bState, spec, layout, state)
                            : runRound(roundData, task, bState, spec, cfg.treeDepth());
                    bState.destroy();
                    long tUpdate = System.nanoTime();

                    // 4. average (or drop the round), EMA
                    double[] means = new double[metricNames.size()];
                    boolean bad = res.bad || res.samples == 0;
                    String reason = res.bad ? res.badReason : res.samples == 0 ? "no samples" : "";
                    if (!bad) {
                        for (int i = 0; i < means.length && i < res.metricSums.length; i++) means[i] = res.metricSums[i] / res.samples;
                        TrainState next = layout != null ? ShardedAveraging.average(res, state, layout, cfg.averageUpdater())
                                : average(res, state, cfg.averageUpdater());
                        // sharded: the reduce tasks checked the sliced tensors
                        if (!Double.isFinite(means[0]) || !(layout != null ? ShardedAveraging.extrasFinite(next, layout) : finite(next.params()))) {
                            bad = true;
                            reason = "non-finite averaged parameters or loss";
                        } else {
                            state = next;
                            ema.update(state.params(), res.maxSteps);
                        }
                    }
                    long tEnd = System.nanoTime();
                    double roundSec = (tEnd - t0) / 1e9;
                    RoundTimes times = new RoundTimes(bcastSec, Math.max(0, res.maxStartUs - submitUs) / 1e6,
                            (tEnd - tUpdate) / 1e9, stateBytes);
                    runSec += roundSec;
                    roundsThisRun++;
                    // the part of the round that is not the slowest worker's steps: the averaging overhead
                    overheadSec += roundSec - (res.maxComputeSec - res.maxPrepSec);
                    stepSec += res.maxComputeSec - res.maxPrepSec;
                    stepsThisRun += res.maxSteps;
                    int nextRound = r + 1;
                    progress = new Checkpoints.Progress(nextRound == plan.rounds() ? epoch + 1 : epoch,
                            nextRound == plan.rounds() ? 0 : nextRound, progress.round() + 1, progress.step() + steps,
                            progress.samples() + (bad ? 0 : res.samples), bad ? progress.badRounds() + 1 : 0);

                    // 5. log, metrics, checkpoint
                    Map<String, Object> row = metricsRow(spec, progress, metricNames, means, res, bad, reason, roundSec, times);
                    metrics.append(row);
                    FaultPoint.reach("round-done");
                    long remainingRounds = (totalSteps - progress.step() + cfg.averagingFrequency() - 1) / cfg.averagingFrequency();
                    logRound(task.name(), epoch, epochs, r, plan.rounds(), row, metricNames, means,
                            runSec / roundsThisRun * remainingRounds);
                    savedAtEnd = false;
                    if (!bad && listener != null) listener.roundEnd(progress.step(), totalSteps, ema.params());
                    if (bad) {
                        log.warn("{}: round {} dropped ({}); {} consecutive", task.name(), spec.round(), reason, progress.badRounds());
                        if (progress.badRounds() >= cfg.maxBadRounds()) {
                            throw new TrainingDivergedException(task.name() + ": stopped after " + progress.badRounds()
                                    + " consecutive rounds with NaN/Inf in the loss or parameters (last: " + reason + ", epoch "
                                    + epoch + ", step " + progress.step() + "); the last good checkpoint is "
                                    + (lastCheckpoint == null ? "none (no checkpoint was written yet)" : lastCheckpoint)
                                    + ". Lower the learning rate, enable trainer.grad-clip, or inspect the data");
                        }
                    } else if (cfg.checkpointEvery() > 0 && progress.round() % cfg.checkpointEvery() == 0) {
                        lastCheckpoint = ckpts.save(state, ema.params(), progress, meta);
                        savedAtEnd = true;
                    }
                    if (!bad && listener != null && nextRound == plan.rounds()) {
                        if (!savedAtEnd) {
                            lastCheckpoint = ckpts.save(state, ema.params(), progress, meta);
                            savedAtEnd = true;
                        }
                        listener.epochEnd(epoch + 1, state, ema.params());
                    }
                }
            }
            if (!savedAtEnd && progress.badRounds() == 0) lastCheckpoint = ckpts.save(state, ema.params(), progress, meta);
            if (roundsThisRun > 0 && stepsThisRun > 0) {
                log.info("{}: {}", task.name(), AveragingCostModel.describe(cfg.aggregation(), overheadSec / roundsThisRun, overheadSec / runSec,
                        stateBytes, workers, cfg.networkGbps(), cfg.averagingFrequency(), stepSec / stepsThisRun));
            }
            log.info("{}: {} at epoch {} step {} after {} rounds in this run ({} s); checkpoint {}", task.name(),
                    finished ? "finished" : "stopped (trainer.stop-after-rounds)", progress.epoch(), progress.step(),
                    roundsThisRun, String.format(Locale.ROOT, "%.1f", runSec), lastCheckpoint);
            return new FitResult(state, ema.params(), progress, finished, lastCheckpoint, resumedFrom, metrics.path());
        }
    }

    /** The round's spec: per-step lr multipliers and epoch fractions from the schedule. */
    private static RoundSpec spec(int epoch, int r, Checkpoints.Progress p, int steps, EpochPlan plan, LrSchedule schedule,
                                  TrainerConfig cfg) {
        double[] lr = new double[steps];
        double[] frac = new double[steps];
        long spe = plan.stepsPerEpoch();
        for (int i = 0; i < steps; i++) {
            lr[i] = schedule.scale(p.step() + i, spe);
            frac[i] = epoch + (plan.stepOffset(r) + i) / (double) spe;
        }
        return new RoundSpec(epoch, r, p.round(), p.step(), steps, lr, frac, cfg.seed(), cfg.averageUpdater(),
                cfg.transferFormat());
    }

    /**
     * Epoch {@code epoch}'s records, shuffled into rounds x workers partitions in seeded order: a seeded
     * permutation of all {@code rows} records, of which the first {@code plan.usedRows()} positions are trained on
     * (all of them but the few a last partial round cannot hold, or a fresh subset when the plan's epoch is smaller
     * than the data).
     */
    static <R> JavaRDD<R> shuffle(JavaPairRDD<R, Long> indexed, long rows, EpochPlan plan, long seed, int epoch) {
        SeededPermutation perm = new SeededPermutation(rows, Seeds.derive(seed, 1, epoch));
        long used = plan.usedRows();
        JavaPairRDD<Long, R> keyed = indexed.flatMapToPair(t -> {
            long p = perm.apply(t._2());
            return p < used ? Collections.singletonList(new Tuple2<>(p, t._1())).iterator()
                    : Collections.<Tuple2<Long, R>>emptyIterator();
        });
        // sorted by position within a partition, so each worker sees its records in the shuffled order
        return keyed.repartitionAndSortWithinPartitions(new RoundPartitioner(plan)).values();
    }

    /** Partitions [from, to) of {@code rdd} as an RDD of their own (a round's job reads only those). */
    static <T> JavaRDD<T> partitions(JavaRDD<T> rdd, int from, int to) {
        RDD<T> pruned = PartitionPruningRDD.create(rdd.rdd(), new KeepRange(from, to));
        return new JavaRDD<>(pruned, rdd.classTag());
    }

    private static final class KeepRange extends AbstractFunction1<Object, Object> implements Serializable {
        private static final long serialVersionUID = 1L;
        private final int from;
        private final int to;

        KeepRange(int from, int to) {
            this.from = from;
            this.to = to;
        }

        @Override
        public Object apply(Object index) {
            int i = (Integer) index;
            return i >= from && i < to;
        }
    }

    static <R, B> RoundResult runRound(JavaRDD<R> roundData, TrainingTask<R, B> task, Broadcast<TrainState> bState,
                                       RoundSpec spec, int depth) {
        return roundData.mapPartitionsWithIndex((w, rows) -> runWorker(task, bState, spec, w, rows), true)
                .treeAggregate(RoundResult.empty(), RoundResult::merge, RoundResult::merge, depth);
    }

    /** A round under trainer.aggregation = sharded: the sum as a reduce-scatter through the shuffle. */
    static <R, B> RoundResult runRoundSharded(JavaRDD<R> roundData, TrainingTask<R, B> task, Broadcast<TrainState> bState,
                                              RoundSpec spec, ShardedAveraging.Layout layout, TrainState like) {
        return ShardedAveraging.round(roundData.mapPartitionsWithIndex(
                (w, rows) -> runWorkerSharded(task, bState, spec, layout, w, rows), true), layout, like);
    }

    /** One worker's part of a round (runs on an executor). */
    static <R, B> Iterator<RoundResult> runWorker(TrainingTask<R, B> task, Broadcast<TrainState> bState, RoundSpec spec,
                                                  int w, Iterator<R> rows) {
        long startUs = RoundResult.nowUs();
        WorkerPool.Lease<B> lease = WorkerPool.borrow(task);
        try {
            Stepped s = steps(task, lease.worker(), bState, spec, w, rows, startUs);
            RoundResult out = s.out();
            long tp = System.nanoTime();
            if (s.state() != null) {
                double weight = out.samples;
                DataType wire = wireType(spec.transferFormat());
                s.state().params().forEach((k, v) -> out.params.put(k, weighted(v, weight, wire)));
                if (spec.sendOptState()) s.state().optState().forEach((k, v) -> out.optState.put(k, weighted(v, weight, wire)));
            }
            double prep = (System.nanoTime() - tp) / 1e9;
            out.maxComputeSec += prep;
            out.maxPrepSec = prep;
            out.maxEndUs = RoundResult.nowUs();
            return Collections.singletonList(out).iterator();
        } finally {
            WorkerPool.release(lease);
        }
    }

    /**
     * One worker's part of a sharded round: its steps, then its weighted state as shard pieces streamed to the
     * shuffle ({@link ShardedAveraging#pieces}). The worker stays borrowed until the last piece is written (or the
     * task ends otherwise).
     */
    static <R, B> Iterator<Tuple2<Integer, ShardedAveraging.Piece>> runWorkerSharded(TrainingTask<R, B> task,
            Broadcast<TrainState> bState, RoundSpec spec, ShardedAveraging.Layout layout, int w, Iterator<R> rows) {
        long startUs = RoundResult.nowUs();
        WorkerPool.Lease<B> lease = WorkerPool.borrow(task);
        AtomicBoolean released = new AtomicBoolean();
        Runnable release = () -> {
            if (released.compareAndSet(false, true)) WorkerPool.release(lease);
        };
        TaskContext ctx = TaskContext.get();
        if (ctx != null) ctx.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) c -> release.run());
        try {
            Stepped s = steps(task, lease.worker(), bState, spec, w, rows, startUs);
            return ShardedAveraging.pieces(layout, s.state(), s.out().samples, s.out(), release);
        } catch (RuntimeException | Error e) {
            release.run();
            throw e;
        }
    }

    /** A worker's steps: its summary (metrics, counts, timings) and its state, null when it has nothing to send. */
    private record Stepped(RoundResult out, TrainState state) {
    }

    private static <R, B> Stepped steps(TrainingTask<R, B> task, Worker<B> worker, Broadcast<TrainState> bState,
                                        RoundSpec spec, int w, Iterator<R> rows, long startUs) {
        long t0 = System.nanoTime();
        worker.load(bState.value());
        long t1 = System.nanoTime();
        Iterator<B> batches = task.batches(rows, spec.batchSeed(w));
        RoundResult out = new RoundResult();
        out.workers = 1;
        out.metricSums = new double[task.metricNames().size()];
        int steps = 0;
        while (steps < spec.steps() && batches.hasNext()) {
            B batch = batches.next();
            int n = task.size(batch);
            double[] m = worker.step(batch, spec.context(steps, w));
            if (m.length == 0 || !Double.isFinite(m[0])) {
                out.bad = true;
                out.badReason = "loss " + (m.length == 0 ? "missing" : m[0]) + " on worker " + w + " at step " + (spec.firstStep() + steps);
                break;
            }
            for (int i = 0; i < m.length && i < out.metricSums.length; i++) out.metricSums[i] += m[i] * n;
            out.samples += n;
            steps++;
            FaultPoint.reach("worker-step");
        }
        out.maxSteps = out.minSteps = steps;
        TrainState state = null;
        if (!out.bad && out.samples > 0) {
            TrainState s = worker.state();
            if (!finite(s.params())) {
                out.bad = true;
                out.badReason = "non-finite parameters on worker " + w;
            } else {
                state = s;
            }
        }
        out.maxFetchSec = (t1 - t0) / 1e9;
        out.maxComputeSec = (System.nanoTime() - t1) / 1e9;
        out.maxStartUs = startUs;
        return new Stepped(out, state);
    }

    /** {@code v * weight}, a new array, in the wire type when that is a 16-bit float (only floating tensors). */
    static INDArray weighted(INDArray v, double weight, DataType wire) {
        INDArray m = v.mul(weight);
        return wire == null || !m.dataType().isFPType() || m.dataType() == wire ? m : m.castTo(wire);
    }

    /** The 16-bit wire type of a transfer format, or null for float32 (sent as computed). */
    static DataType wireType(TrainerConfig.TransferFormat f) {
        return switch (f) {
            case FLOAT32 -> null;
            case BFLOAT16 -> DataType.BFLOAT16;
            case FLOAT16 -> DataType.HALF;
        };
    }

    /** Sample-weighted mean of the workers' states; the driver's optimizer state when not averaging it. */
    static TrainState average(RoundResult res, TrainState previous, boolean averageUpdater) {
        return average(res, previous, averageUpdater, k -> false);
    }

    /** As above, where the tensors {@code isMean} names arrived already divided (sharded averaging's slices). */
    static TrainState average(RoundResult res, TrainState previous, boolean averageUpdater,
                              java.util.function.Predicate<String> isMean) {
        double n = res.samples;
        LinkedHashMap<String, INDArray> p = new LinkedHashMap<>();
        for (String k : previous.params().keySet()) {
            INDArray sum = res.params.get(k);
            if (sum == null) throw new IllegalStateException("no worker returned parameter " + k);
            INDArray v = asTypeOf(sum, previous.params().get(k));
            p.put(k, isMean.test(k) ? v : v.divi(n));
        }
        LinkedHashMap<String, INDArray> o = new LinkedHashMap<>();
        for (String k : previous.optState().keySet()) {
            INDArray sum = averageUpdater ? res.optState.get(k) : null;
            if (averageUpdater && sum == null) throw new IllegalStateException("no worker returned optimizer state " + k);
            INDArray v = averageUpdater ? asTypeOf(sum, previous.optState().get(k)) : previous.optState().get(k);
            o.put(k, averageUpdater && !isMean.test(k) ? v.divi(n) : v);
        }
        return new TrainState(p, o);
    }

    /** {@code sum} in the data type of {@code like} (a single 16-bit result that was never accumulated). */
    private static INDArray asTypeOf(INDArray sum, INDArray like) {
        return sum.dataType() == like.dataType() ? sum : sum.castTo(like.dataType());
    }

    static boolean finite(Map<String, INDArray> tensors) {
        for (INDArray a : tensors.values()) {
            if (a.isEmpty()) continue;
            // NaN and +-Inf survive a sum; finite values this large do not occur in weights
            if (!Double.isFinite(a.sumNumber().doubleValue())) return false;
        }
        return true;
    }

    private static Map<String, Object> checkpointMeta(TrainingTask<?, ?> task, TrainerConfig cfg, EpochPlan plan) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("task", task.name());
        m.put("worker_key", task.workerKey());
        m.put("metrics", task.metricNames());
        m.put("seed", cfg.seed());
        m.put("config_sha256", cfg.configHash());
        m.put("revision", Provenance.revision());
        m.put("trainer", Checkpoints.JSON.convertValue(cfg, Map.class));
        m.put("data_rows", plan.rows());
        m.put("workers", plan.workers());
        m.put("batch_per_worker", plan.batch());
        m.put("steps_per_epoch", plan.stepsPerEpoch());
        return m;
    }

    private static Map<String, Object> metricsRow(RoundSpec spec, Checkpoints.Progress p, List<String> names, double[] means,
                                                  RoundResult res, boolean bad, String reason, double roundSec, RoundTimes t) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("round", spec.round());
        row.put("epoch", spec.epoch());
        row.put("round_in_epoch", spec.roundInEpoch());
        row.put("step", p.step());
        row.put("lr_scale", spec.lrScales().length == 0 ? 0 : spec.lrScales()[spec.lrScales().length - 1]);
        for (int i = 0; i < names.size(); i++) row.put(names.get(i), bad ? null : means[i]);
        row.put("samples", res.samples);
        row.put("samples_per_s", roundSec > 0 ? res.samples / roundSec : 0);
        double broadcast = t.broadcastSec() + res.maxFetchSec;
        double aggregate = Math.max(0, roundSec - broadcast - res.maxComputeSec);
        row.put("round_s", roundSec);
        row.put("broadcast_s", broadcast);
        row.put("compute_s", res.maxComputeSec);
        // scheduling, result serialization and transfer, the tree sum, the division and the EMA
        row.put("aggregate_s", aggregate);
        // the parts of the averaging overhead (broadcast_s + aggregate_s + result_prep_s):
        // the slowest worker's multiplication of its state by its sample count (inside compute_s)
        row.put("result_prep_s", res.maxPrepSec);
        // job submitted -> last worker started: task scheduling, launch and closure deserialization
        row.put("schedule_s", t.scheduleSec());
        // adding the workers' tensors, over every merge of the tree (executors' and the driver's)
        row.put("sum_s", res.sumSec);
        // the driver's division, finiteness check and EMA
        row.put("update_s", t.updateSec());
        // what remains of aggregate_s: result serialization, transfer and deserialization, and worker skew
        row.put("transfer_s", Math.max(0, aggregate - t.scheduleSec() - res.sumSec - t.updateSec()));
        // tensor bytes of the broadcast state; each worker fetches it and returns as much (or its params only)
        row.put("state_mb", t.stateBytes() / 1e6);
        row.put("dropped", bad);
        if (bad) row.put("drop_reason", reason);
        return row;
    }

    /** Driver-side timings of a round. */
    private record RoundTimes(double broadcastSec, double scheduleSec, double updateSec, long stateBytes) {
    }

    /** Bytes a worker sends back per round: parameters, plus optimizer state when averaged, in the wire format. */
    static long sentBytes(TrainState s, TrainerConfig cfg) {
        long n = 0;
        int half = cfg.transferFormat() == TrainerConfig.TransferFormat.FLOAT32 ? 1 : 2;
        for (INDArray a : s.params().values()) n += a.length() * a.dataType().width() / (a.dataType().isFPType() ? half : 1);
        if (cfg.averageUpdater()) {
            for (INDArray a : s.optState().values()) n += a.length() * a.dataType().width() / (a.dataType().isFPType() ? half : 1);
        }
        return n;
    }

    /**
     * Fails before the first round when a round's results cannot pass Spark's limits: under the tree each worker
     * returns its whole state as one task result, serialized into one buffer of at most
     * spark.kryoserializer.buffer.max; under sharding each slice is one result; either way the state's bytes reach
     * the driver, at most spark.driver.maxResultSize of them.
     */
    static void checkTransferLimits(org.apache.spark.SparkConf conf, long sent, TrainerConfig.Aggregation aggregation,
                                    ShardedAveraging.Layout layout, String name) {
        String gb = String.format(Locale.ROOT, "%.2f GB", sent / 1e9);
        long maxResult = conf.getSizeAsBytes("spark.driver.maxResultSize", "1g");
        if (maxResult > 0 && sent > maxResult) {
            throw new io.robustok.cli.UserError(name + ": each round brings the averaged state (" + gb + ") to the driver, "
                    + "above spark.driver.maxResultSize (" + conf.get("spark.driver.maxResultSize", "1g") + "); raise it with "
                    + "spark.conf { \"spark.driver.maxResultSize\" = \"" + (sent / (1L << 30) + 2) + "g\" } (0 = no limit) and "
                    + "give the driver the memory for it");
        }
        if (!conf.get("spark.serializer", "").endsWith("KryoSerializer")) return;
        long buffer = conf.getSizeAsBytes("spark.kryoserializer.buffer.max", "64m");
        // a result carries its tensors plus a few KB of names, shapes and counters
        long largest = aggregation == TrainerConfig.Aggregation.SHARDED && layout != null
                ? 4 * (layout.total() + layout.shards() - 1) / layout.shards() : sent;
        if (largest + (64 << 10) > buffer) {
            throw new io.robustok.cli.UserError(name + (aggregation == TrainerConfig.Aggregation.TREE
                    ? ": each worker returns its whole state (" + gb + ") as one task result, above "
                    + "spark.kryoserializer.buffer.max (" + conf.get("spark.kryoserializer.buffer.max", "64m")
                    + "; at most 2047m); set trainer.aggregation = sharded, which returns the state in slices"
                    : ": a slice of the state (" + String.format(Locale.ROOT, "%.2f GB", largest / 1e9) + ") is above "
                    + "spark.kryoserializer.buffer.max (" + conf.get("spark.kryoserializer.buffer.max", "64m")
                    + "); set trainer.shards = 0 (slices of at most 128 MB) or more slices"));
        }
    }

    static long bytes(TrainState s) {
        long n = 0;
        for (INDArray a : s.params().values()) n += a.length() * a.dataType().width();
        for (INDArray a : s.optState().values()) n += a.length() * a.dataType().width();
        return n;
    }

    private static void logRound(String name, int epoch, int epochs, int r, int rounds, Map<String, Object> row,
                                 List<String> names, double[] means, double etaSec) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s: epoch %d/%d round %d/%d step %d |", name, epoch + 1, epochs, r + 1, rounds,
                (Long) row.get("step")));
        if (Boolean.TRUE.equals(row.get("dropped"))) sb.append(" DROPPED (").append(row.get("drop_reason")).append(')');
        else for (int i = 0; i < names.size(); i++) sb.append(String.format(Locale.ROOT, " %s %.5g", names.get(i), means[i]));
        long eta = Math.round(etaSec);
        sb.append(String.format(Locale.ROOT, " | lr x%.4f | %.1f samples/s | round %.2f s (bcast %.2f, compute %.2f, agg %.2f) | eta %d:%02d:%02d",
                (Double) row.get("lr_scale"), (Double) row.get("samples_per_s"), (Double) row.get("round_s"),
                (Double) row.get("broadcast_s"), (Double) row.get("compute_s"), (Double) row.get("aggregate_s"),
                eta / 3600, eta / 60 % 60, eta % 60));
        log.info(sb.toString());
    }
}
