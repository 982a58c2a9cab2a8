package io.robustok.train;

import java.io.Serializable;

/**
 * Driver-decided facts about one step, handed to {@link Worker#step}.
 *
 * @param globalStep step index since the start of training (the same on every worker)
 * @param epoch      current epoch, 0-based
 * @param epochFraction epoch + fraction of it done, for per-epoch schedules (perturbation, GAN start)
 * @param lrScale    learning-rate multiplier from the schedule (warm-up + cosine) in [0, 1]; the worker
 *                   multiplies each network's own peak lr by it
 * @param seed       seed for this (step, worker) pair: perturbation draws, dropout, class dropout
 */
public record StepContext(long globalStep, int epoch, double epochFraction, double lrScale, long seed)
        implements Serializable {
}
