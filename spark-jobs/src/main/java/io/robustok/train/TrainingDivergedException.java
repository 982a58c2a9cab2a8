package io.robustok.train;

/** Too many consecutive rounds produced NaN/Inf; the last good checkpoint is left as it was. */
public final class TrainingDivergedException extends IllegalStateException {
    public TrainingDivergedException(String message) {
        super(message);
    }
}
