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

    // Fitted (bench/trainer/sim_tables.py --fit, non-negative least squares on the relative error) to the
    // "after" cells of BENCHMARKS.md "Simulated GPU executors" (docs/SCALING.md): 1M and 20M parameters, 1-4
    // executors, frequencies 1-50, on a shared 2-core machine where all executors, the driver and the daemons compete for the same CPUs.
    // The per-worker byte cost E therefore includes that contention; on a cluster, where each executor's
    // (de)serialization runs on its own host, it is an upper bound. Units: s; s per worker; s per GB; s per GB
    // and worker.
    static final double A = 0.147;
    static final double C = 0.058;
    static final double D = 0.0;
    static final double E = 17.1;

    private AveragingCostModel() {
    }

    /** Predicted overhead of one round, seconds. */
    public static double roundOverheadSec(long stateBytes, int workers, double networkGbps) {
        double gb = stateBytes / 1e9;
        return A + C * workers + gb * (D + E * workers) + 8 * gb * (1 + workers) / networkGbps;
    }

    /** Share of round time: overhead / (frequency x step time + overhead). */
    public static double share(double overheadSec, int frequency, double stepSec) {
        double round = frequency * stepSec + overheadSec;
        return round > 0 ? overheadSec / round : 0;
    }

    /** Smallest averaging frequency that keeps the predicted overhead at or under {@code maxShare}. */
    public static int frequencyFor(long stateBytes, int workers, double networkGbps, double stepSec, double maxShare) {
        double o = roundOverheadSec(stateBytes, workers, networkGbps);
        if (stepSec <= 0) return Integer.MAX_VALUE;
        // o / (f t + o) <= s  <=>  f >= o (1 - s) / (s t)
        return (int) Math.max(1, Math.ceil(o * (1 - maxShare) / (maxShare * stepSec) - 1e-9));
    }

    /** One log line: measured overhead next to the model's prediction. */
    static String describe(double measuredOverheadSec, double measuredShare, long stateBytes, int workers, double networkGbps,
                           int frequency, double stepSec) {
        double o = roundOverheadSec(stateBytes, workers, networkGbps);
        double loopback = roundOverheadSec(stateBytes, workers, Double.MAX_VALUE);
        return String.format(Locale.ROOT, "averaging overhead %.3f s/round (%.1f%% of round time) measured; cost model %.3f s "
                        + "(%.1f%%) on loopback, %.3f s (%.1f%%) at trainer.network-gbps=%s; %.0f MB state, %d workers, "
                        + "frequency %d, step %.3f s; frequency for <=10%% at that bandwidth: %d",
                measuredOverheadSec, 100 * measuredShare, loopback, 100 * share(loopback, frequency, stepSec), o,
                100 * share(o, frequency, stepSec), networkGbps, stateBytes / 1e6, workers, frequency, stepSec,
                frequencyFor(stateBytes, workers, networkGbps, stepSec, 0.10));
    }
}
