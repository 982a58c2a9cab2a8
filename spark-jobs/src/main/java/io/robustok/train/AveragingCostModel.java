package io.robustok.train;

import java.util.Locale;

/**
 * Predicted averaging overhead of one round of {@link ParameterAveragingMaster} (everything of a round that is
 * not the workers' steps: broadcast, task scheduling, building, serializing, transferring and summing the
 * results, the driver's division and EMA), fitted to the simulated-GPU-executor benchmark (docs/SCALING.md,
 * BENCHMARKS.md "Simulated GPU executors"):
 *
 * <pre>
 *   overhead(B, W, bw) = A + C W + B (D + E W) + 8 B (1 + W) / bw
 * </pre>
 *
 * with B the state's size in GB (parameters and, when averaged, optimizer state), W the workers and bw the
 * network bandwidth in Gbit/s. A + C W is the per-round latency (job and task scheduling), B (D + E W) the CPU
 * cost of moving and summing bytes (serialization, copies, the driver's sum, measured on loopback where the
 * "transfer" is a memory copy), and the last term the time on the wire of one broadcast plus W results through
 * the driver's link. Averaging overhead as a share of a round of f steps of t seconds is
 * overhead / (f t + overhead).
 */
public final class AveragingCostModel {
    /** Default trainer.network-gbps: a 25 Gbit/s Ethernet link between executors and driver. */
    public static final double DEFAULT_GBPS = 25;

    // Fitted (bench/trainer/sim_tables.py --fit, non-negative least squares on the relative error) to the cells of
    // BENCHMARKS.md "Sharded averaging" (docs/SCALING.md): 1M, 20M and 172M parameters, 1-8 executors, frequencies
    // 1-50, on a 2-core machine where all executors, the driver and the daemons compete for the same CPUs, tree and
    // sharded cells of the same session. The per-worker byte cost E therefore includes that contention; on a
    // cluster, where each executor's (de)serialization runs on its own host, it is an upper bound. Units: s; s per
    // worker; s per GB; s per GB and worker.
    static final double A = 0.052;
    static final double C = 0.049;
    static final double D = 0.79;
    static final double E = 2.96;
    // trainer.aggregation = sharded: the second stage per round and the shuffle's disk writes raise the fixed
    // per-GB cost D; the per-worker cost E, here the executors queueing for the same 2 cores, is lower.
    static final double A_SHARDED = 0.037;
    static final double C_SHARDED = 0.092;
    static final double D_SHARDED = 3.87;
    static final double E_SHARDED = 2.11;

    private AveragingCostModel() {
    }

    /** Predicted overhead of one round under treeAggregate, seconds. */
    public static double roundOverheadSec(long stateBytes, int workers, double networkGbps) {
        return roundOverheadSec(TrainerConfig.Aggregation.TREE, stateBytes, workers, networkGbps);
    }

    /**
     * Predicted overhead of one round, seconds. The wire term counts the busiest link: under the tree the driver's
     * (one broadcast out, W results in); under sharding the driver's link carries one state each way and each
     * executor's, in parallel, (W - 1) / W of a state each way for the shuffle, so 8 B (3 - 1/W) / bw in all.
     */
    public static double roundOverheadSec(TrainerConfig.Aggregation aggregation, long stateBytes, int workers, double networkGbps) {
        double gb = stateBytes / 1e9;
        if (aggregation == TrainerConfig.Aggregation.SHARDED) {
            return A_SHARDED + C_SHARDED * workers + gb * (D_SHARDED + E_SHARDED * workers) + 8 * gb * (3 - 1.0 / workers) / networkGbps;
        }
        return A + C * workers + gb * (D + E * workers) + 8 * gb * (1 + workers) / networkGbps;
    }

    /** Share of round time: overhead / (frequency x step time + overhead). */
    public static double share(double overheadSec, int frequency, double stepSec) {
        double round = frequency * stepSec + overheadSec;
        return round > 0 ? overheadSec / round : 0;
    }

    /** Smallest averaging frequency that keeps the predicted overhead at or under {@code maxShare}. */
    public static int frequencyFor(long stateBytes, int workers, double networkGbps, double stepSec, double maxShare) {
        return frequencyFor(TrainerConfig.Aggregation.TREE, stateBytes, workers, networkGbps, stepSec, maxShare);
    }

    /** Smallest averaging frequency that keeps the predicted overhead at or under {@code maxShare}. */
    public static int frequencyFor(TrainerConfig.Aggregation aggregation, long stateBytes, int workers, double networkGbps,
                                   double stepSec, double maxShare) {
        double o = roundOverheadSec(aggregation, stateBytes, workers, networkGbps);
        if (stepSec <= 0) return Integer.MAX_VALUE;
        // o / (f t + o) <= s  <=>  f >= o (1 - s) / (s t)
        return (int) Math.max(1, Math.ceil(o * (1 - maxShare) / (maxShare * stepSec) - 1e-9));
    }

    /** One log line: measured overhead next to the model's prediction. */
    static String describe(double measuredOverheadSec, double measuredShare, long stateBytes, int workers, double networkGbps,
                           int frequency, double stepSec) {
        return describe(TrainerConfig.Aggregation.TREE, measuredOverheadSec, measuredShare, stateBytes, workers, networkGbps,
                frequency, stepSec);
    }

    static String describe(TrainerConfig.Aggregation aggregation, double measuredOverheadSec, double measuredShare,
                           long stateBytes, int workers, double networkGbps, int frequency, double stepSec) {
        double o = roundOverheadSec(aggregation, stateBytes, workers, networkGbps);
        double loopback = roundOverheadSec(aggregation, stateBytes, workers, Double.MAX_VALUE);
        return String.format(Locale.ROOT, "averaging overhead %.3f s/round (%.1f%% of round time) measured; cost model %.3f s "
                        + "(%.1f%%) on loopback, %.3f s (%.1f%%) at trainer.network-gbps=%s; %.0f MB state, %d workers, "
                        + "frequency %d, step %.3f s, %s aggregation; frequency for <=10%% at that bandwidth: %d",
                measuredOverheadSec, 100 * measuredShare, loopback, 100 * share(loopback, frequency, stepSec), o,
                100 * share(o, frequency, stepSec), networkGbps, stateBytes / 1e6, workers, frequency, stepSec,
                aggregation.name().toLowerCase(Locale.ROOT), frequencyFor(aggregation, stateBytes, workers, networkGbps, stepSec, 0.10));
    }
}
