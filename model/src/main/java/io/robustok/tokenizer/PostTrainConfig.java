package io.robustok.tokenizer;

import com.typesafe.config.Config;

import java.io.Serializable;

/**
 * The optimizer, batch and seed of decoder post-training (SPEC section 6), from the {@code posttrain} section of the
 * config (documented key by key in conf/defaults.conf). Its trainer settings (epochs, schedule, EMA) are the
 * {@code posttrain.trainer} overlay of the trainer section; the losses are the tokenizer's own.
 *
 * @param batchSize       minibatch per worker and step
 * @param lr              peak decoder lr (paper: 5e-5)
 * @param weightDecay     decoder AdamW decay (paper: 0)
 * @param discLr          peak discriminator lr (paper: 5e-5)
 * @param discWeightDecay discriminator AdamW decay (paper: 5e-4)
 * @param seed            the fresh discriminator's initialisation
 */
public record PostTrainConfig(int batchSize, double lr, double beta1, double beta2, double eps, double weightDecay,
                              double discLr, double discWeightDecay, long seed) implements Serializable {

    public PostTrainConfig {
        if (batchSize < 1) throw new IllegalArgumentException("posttrain.batch-size must be >= 1");
        if (!(lr > 0) || !(discLr >= 0)) throw new IllegalArgumentException("posttrain.optimizer.lr must be > 0 and disc-lr >= 0");
    }

    public static PostTrainConfig from(Config p) {
        Config o = p.getConfig("optimizer");
        return new PostTrainConfig(p.getInt("batch-size"), o.getDouble("lr"), o.getDouble("beta1"), o.getDouble("beta2"),
                o.getDouble("eps"), o.getDouble("weight-decay"), o.getDouble("disc-lr"), o.getDouble("disc-weight-decay"),
                p.getLong("seed"));
    }

    public PostTrainConfig withBatchSize(int b) {
        return new PostTrainConfig(b, lr, beta1, beta2, eps, weightDecay, discLr, discWeightDecay, seed);
    }
}
