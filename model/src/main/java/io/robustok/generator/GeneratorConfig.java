package io.robustok.generator;

import com.typesafe.config.Config;
import io.robustok.train.AdamW;

import java.io.Serializable;

/**
 * The {@code generator} section of the config (SPEC section 5; every key documented in conf/defaults.conf).
 *
 * @param model        architecture
 * @param order        random-order annealing (global steps)
 * @param classDropout probability of replacing a label by the null class in training (classifier-free guidance)
 * @param lr           peak learning rate; the trainer's schedule multiplies it (StepContext.lrScale)
 * @param optimizer    AdamW betas, eps, weight decay (decay on weight matrices only; embeddings, biases, norms not)
 * @param gradClip     global-norm clip (0: off)
 * @param batchSize    minibatch per worker and step
 * @param seed         parameter init
 * @param sampling     temperature and guidance for sampling and teacher-forced mixing
 */
public record GeneratorConfig(RarConfig model, TokenOrder order, double classDropout, double lr, AdamW optimizer,
                              double gradClip, int batchSize, long seed, SamplingConfig sampling) implements Serializable {

    public GeneratorConfig {
        if (classDropout < 0 || classDropout >= 1) throw new IllegalArgumentException("generator.class-dropout must be in [0, 1)");
        if (!(lr > 0)) throw new IllegalArgumentException("generator.optimizer.lr must be > 0");
        if (batchSize < 1) throw new IllegalArgumentException("generator.batch-size must be >= 1");
        if (gradClip < 0) throw new IllegalArgumentException("generator.trainer.grad-clip must be >= 0");
    }

    /**
     * From the whole config: the {@code generator} section, with the grad clip of {@code generator.trainer} (or
     * {@code trainer} when the generator does not override it), the same value the master carries.
     */
    public static GeneratorConfig from(Config root) {
        Config g = root.getConfig("generator");
        int grid = g.getInt("latent-grid");
        Config m = g.getConfig("model");
        RarConfig model = new RarConfig(grid * grid, g.getInt("codebook-size"), g.getInt("num-classes"), m.getInt("width"),
                m.getInt("depth"), m.getInt("heads"), m.getDouble("mlp-ratio"), m.getBoolean("step-embedding"));
        Config ro = g.getConfig("random-order");
        Config o = g.getConfig("optimizer");
        double clip = g.hasPath("trainer.grad-clip") ? g.getDouble("trainer.grad-clip") : root.getDouble("trainer.grad-clip");
        return new GeneratorConfig(model, new TokenOrder(ro.getLong("anneal-start"), ro.getLong("anneal-end")),
                g.getDouble("class-dropout"), o.getDouble("lr"),
                new AdamW(o.getDouble("beta1"), o.getDouble("beta2"), o.getDouble("eps"), o.getDouble("weight-decay")),
                clip, g.getInt("batch-size"), g.getLong("seed"), SamplingConfig.from(g.getConfig("sampling")));
    }

    /** A copy with another architecture and batch size (tests, benchmarks). */
    public GeneratorConfig with(RarConfig model, int batchSize) {
        return new GeneratorConfig(model, order, classDropout, lr, optimizer, gradClip, batchSize, seed, sampling);
    }

    /** A copy with another order schedule and learning rate. */
    public GeneratorConfig with(TokenOrder order, double lr) {
        return new GeneratorConfig(model, order, classDropout, lr, optimizer, gradClip, batchSize, seed, sampling);
    }
}
