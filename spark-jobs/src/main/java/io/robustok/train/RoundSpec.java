package io.robustok.train;

import java.io.Serializable;

/**
 * What the driver decides for one round, shipped in the task closure: where the round is, the lr multiplier
 * and epoch fraction of each of its steps, the seed everything else derives from, and how workers send back.
 */
record RoundSpec(int epoch, int roundInEpoch, long round, long firstStep, int steps, double[] lrScales,
                 double[] epochFractions, long seed, boolean sendOptState, TrainerConfig.TransferFormat transferFormat)
        implements Serializable {

    /** Seed of the minibatch iterator of worker {@code w} (augmentation, crops). */
    long batchSeed(int w) {
        return Seeds.derive(seed, 2, epoch, roundInEpoch, w);
    }

    /** Seed of step {@code i} of this round on worker {@code w} (perturbation, dropout draws). */
    long stepSeed(int i, int w) {
        return Seeds.derive(seed, 3, firstStep + i, w);
    }

    StepContext context(int i, int w) {
        return new StepContext(firstStep + i, epoch, epochFractions[i], lrScales[i], stepSeed(i, w));
    }
}
