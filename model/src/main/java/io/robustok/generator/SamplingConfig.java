package io.robustok.generator;

import com.typesafe.config.Config;

import java.io.Serializable;

/**
 * Sampling settings (SPEC section 5): multinomial at {@code temperature}, classifier-free guidance {@code guidance}
 * (g; 1 is the conditional model alone) ramped per step by {@code s_t = 1 + (g - 1) (1 - cos(pi (t/T)^p)) / 2}
 * with p = {@code guidancePower}. Paper: RAR-B T 1.02, g 6.0, p 1.15; RAR-L T 1.04, g 6.75, p 1.01.
 */
public record SamplingConfig(double temperature, double guidance, double guidancePower) implements Serializable {

    public SamplingConfig {
        if (!(temperature > 0)) throw new IllegalArgumentException("generator.sampling.temperature must be > 0");
        if (guidance < 0 || guidancePower <= 0) throw new IllegalArgumentException("guidance must be >= 0, guidance-power > 0");
    }

    public static SamplingConfig from(Config s) {
        return new SamplingConfig(s.getDouble("temperature"), s.getDouble("guidance"), s.getDouble("guidance-power"));
    }

    /** Guidance scale at step {@code t} (0-based) of {@code tokens}: 1 at t = 0, rising to about g at the end. */
    public double scaleAt(int t, int tokens) {
        double ramp = (1 - Math.cos(Math.PI * Math.pow((double) t / tokens, guidancePower))) / 2;
        return 1 + (guidance - 1) * ramp;
    }

    /** Whether the unconditional rows are needed at all (g = 1 is the conditional model, at half the cost). */
    public boolean guided() {
        return guidance != 1.0;
    }
}
