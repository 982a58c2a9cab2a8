package io.robustok.train;

/**
 * Executor-side half of a {@link TrainingTask}: owns the compiled graphs and runs the step function.
 * Not thread-safe; the master gives each task slot its own worker.
 */
public interface Worker<B> {

    /** Replaces this worker's parameters and optimizer state by the broadcast ones (copying them). */
    void load(TrainState state);

    /**
     * One optimisation step on {@code batch}: forward, losses, gradients, the optimizer update of every
     * network the stage trains, in the order the stage needs (e.g. generator then discriminator).
     *
     * @return the metric values, in the order of {@link TrainingTask#metricNames()}; a non-finite value
     *         in position 0 (the total loss) tells the master to drop this round
     */
    double[] step(B batch, StepContext ctx);

    /** The current local parameters and optimizer state (views are fine; the master copies if needed). */
    TrainState state();
}
