package io.robustok.train;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Exponential moving average of the weights, kept by the driver (SPEC section 2: decay 0.9999; the EMA
 * weights are what later stages use).
 *
 * <p>The driver only sees the averaged weights once per round of k local steps, so a round applies
 * {@code ema = d^k * ema + (1 - d^k) * w}: exactly what k per-step updates give if the weights had been
 * {@code w} through the whole round. The error is of order k / (1 - d) relative to the EMA horizon, negligible
 * for the usual k of 1-50 against a horizon of 10^4 steps. Not thread-safe.
 */
public final class Ema {
    private final double decay;
    private final LinkedHashMap<String, INDArray> avg = new LinkedHashMap<>();

    /** Starts at a copy of {@code params}. */
    public Ema(double decay, Map<String, INDArray> params) {
        if (decay < 0 || decay >= 1) throw new IllegalArgumentException("ema decay must be in [0, 1), got " + decay);
        this.decay = decay;
        params.forEach((k, v) -> avg.put(k, v.dup()));
    }

    public double decay() {
        return decay;
    }

    /** Folds in {@code params} reached after {@code steps} local steps. */
    public void update(Map<String, INDArray> params, int steps) {
        if (steps <= 0) return;
        double dk = Math.pow(decay, steps);
        for (Map.Entry<String, INDArray> e : avg.entrySet()) {
            INDArray w = params.get(e.getKey());
            if (w == null) throw new IllegalArgumentException("ema: parameter " + e.getKey() + " missing");
            // ema = dk * ema + (1 - dk) * w, in place
            e.getValue().muli(dk).addi(w.mul(1 - dk));
        }
    }

    /** The averaged weights (live arrays: copy before mutating). */
    public Map<String, INDArray> params() {
        return avg;
    }

    /** Replaces the averages by copies of {@code saved} (resume). */
    public void restore(Map<String, INDArray> saved) {
        if (!saved.keySet().equals(avg.keySet())) {
            throw new IllegalArgumentException("ema: saved tensors " + saved.keySet() + " differ from " + avg.keySet());
        }
        saved.forEach((k, v) -> avg.put(k, v.dup()));
    }
}
