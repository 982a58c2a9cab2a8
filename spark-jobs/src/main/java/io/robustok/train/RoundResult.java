package io.robustok.train;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one worker returns from a round, and the running sum treeAggregate builds from those: parameters and
 * optimizer state multiplied by the worker's sample count (the driver divides by the total), metric sums
 * (metric x batch size), counts and timings. A worker that saw a non-finite loss or parameter sends no tensors
 * and sets {@code bad}; one bad worker makes the whole round bad.
 */
final class RoundResult implements Serializable {
    private static final long serialVersionUID = 1L;

    LinkedHashMap<String, INDArray> params = new LinkedHashMap<>();
    LinkedHashMap<String, INDArray> optState = new LinkedHashMap<>();
    double[] metricSums = new double[0];
    long samples;
    int workers;
    int maxSteps;
    int minSteps = Integer.MAX_VALUE;
    boolean bad;
    String badReason = "";
    /** Slowest worker's broadcast fetch + load, and its compute time (the round waits for the slowest). */
    double maxFetchSec;
    double maxComputeSec;
    /** Slowest worker's time to build its weighted result (part of its compute time). */
    double maxPrepSec;
    /** Wall-clock (epoch microseconds, comparable across the JVMs of one host or an NTP-synced cluster) at which
     *  the last worker started, and at which the last worker finished its function. */
    long maxStartUs;
    long maxEndUs;
    /** Time spent adding tensors in merges, summed over every merge of the tree (executors' and the driver's). */
    double sumSec;

    RoundResult() {
    }

    /** Now, in epoch microseconds. */
    static long nowUs() {
        java.time.Instant t = java.time.Instant.now();
        return t.getEpochSecond() * 1_000_000L + t.getNano() / 1_000;
    }

    static RoundResult empty() {
        return new RoundResult();
    }

    /** Adds {@code o} into this one (in place; both are Spark-deserialized copies) and returns this. */
    RoundResult merge(RoundResult o) {
        if (o.workers == 0) return this;
        if (workers == 0) return o;
        long t0 = System.nanoTime();
        bad |= o.bad;
        if (o.bad && badReason.isEmpty()) badReason = o.badReason;
        if (bad) {
            params.clear();
            optState.clear();
        } else {
            addInto(params, o.params);
            addInto(optState, o.optState);
        }
        if (metricSums.length < o.metricSums.length) metricSums = java.util.Arrays.copyOf(metricSums, o.metricSums.length);
        for (int i = 0; i < o.metricSums.length; i++) metricSums[i] += o.metricSums[i];
        samples += o.samples;
        workers += o.workers;
        maxSteps = Math.max(maxSteps, o.maxSteps);
        minSteps = Math.min(minSteps, o.minSteps);
        maxFetchSec = Math.max(maxFetchSec, o.maxFetchSec);
        maxComputeSec = Math.max(maxComputeSec, o.maxComputeSec);
        maxPrepSec = Math.max(maxPrepSec, o.maxPrepSec);
        maxStartUs = Math.max(maxStartUs, o.maxStartUs);
        maxEndUs = Math.max(maxEndUs, o.maxEndUs);
        sumSec += o.sumSec + (System.nanoTime() - t0) / 1e9;
        return this;
    }

    /**
     * Adds {@code add} into {@code acc}. Tensors sent in a 16-bit format (trainer.transfer-format) are accumulated
     * in float32: the first addition widens the accumulator.
     */
    private static void addInto(Map<String, INDArray> acc, Map<String, INDArray> add) {
        if (acc.isEmpty()) {
            acc.putAll(add);
            return;
        }
        for (Map.Entry<String, INDArray> e : add.entrySet()) {
            INDArray a = acc.get(e.getKey());
            if (a == null) throw new IllegalStateException("workers disagree on tensor " + e.getKey());
            INDArray b = e.getValue();
            if (isHalf(a.dataType())) {
                a = a.castTo(DataType.FLOAT);
                acc.put(e.getKey(), a);
            }
            a.addi(b.dataType() == a.dataType() ? b : b.castTo(a.dataType()));
        }
    }

    private static boolean isHalf(DataType t) {
        return t == DataType.BFLOAT16 || t == DataType.HALF;
    }
}
