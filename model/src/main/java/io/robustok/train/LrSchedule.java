package io.robustok.train;

import java.io.Serializable;
import java.util.Locale;

/**
 * Learning-rate multiplier: linear warm-up from 0 to 1, then half a cosine from 1 down to {@code minRatio}
 * (peak lr x minRatio is the final lr; SPEC section 2: 2.4e-4 -> 5e-5 over 200 epochs with 1 warm-up epoch;
 * section 5: 62.5k warm-up steps, cosine to 1e-5 over 250k steps).
 *
 * <p>The unit of {@code warmup} and {@code total} is epochs ({@link Mode#EPOCH}) or global steps
 * ({@link Mode#STEP}). Either way the schedule is evaluated at the progress reached at the END of the step
 * (step + 1, or (step + 1) / stepsPerEpoch epochs), so the first step already has a non-zero lr and the warm-up
 * of a per-epoch schedule rises smoothly through its first epoch instead of jumping once per epoch.
 *
 * @param mode     what {@code warmup} and {@code total} count
 * @param warmup   warm-up length, in the mode's unit (0: none)
 * @param total    schedule length, in the mode's unit; after it the multiplier stays at {@code minRatio}
 * @param minRatio final multiplier in [0, 1]
 */
public record LrSchedule(Mode mode, double warmup, double total, double minRatio) implements Serializable {

    public enum Mode {
        /** lr x 1 throughout. */
        CONSTANT,
        /** warm-up and cosine measured in epochs. */
        EPOCH,
        /** warm-up and cosine measured in global steps. */
        STEP;

        public static Mode parse(String s) {
            try {
                return valueOf(s.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("lr schedule mode '" + s + "' is not one of constant, epoch, step");
            }
        }
    }

    public LrSchedule {
        if (warmup < 0 || total < 0) throw new IllegalArgumentException("warmup and total must be >= 0");
        if (minRatio < 0 || minRatio > 1) throw new IllegalArgumentException("min-ratio must be in [0, 1], got " + minRatio);
    }

    public static LrSchedule constant() {
        return new LrSchedule(Mode.CONSTANT, 0, 0, 1);
    }

    /**
     * Multiplier for global step {@code step} (0-based).
     *
     * @param stepsPerEpoch steps in one epoch (used by {@link Mode#EPOCH})
     */
    public double scale(long step, long stepsPerEpoch) {
        double t = switch (mode) {
            case CONSTANT -> 0;
            case STEP -> step + 1;
            case EPOCH -> (step + 1) / (double) Math.max(1, stepsPerEpoch);
        };
        return mode == Mode.CONSTANT ? 1.0 : at(t);
    }

    /** Multiplier at progress {@code t}, in the mode's unit. */
    public double at(double t) {
        if (warmup > 0 && t < warmup) return t / warmup;
        if (total <= warmup) return 1.0;
        double p = Math.min(1.0, (t - warmup) / (total - warmup));
        return minRatio + (1 - minRatio) * 0.5 * (1 + Math.cos(Math.PI * p));
    }
}
