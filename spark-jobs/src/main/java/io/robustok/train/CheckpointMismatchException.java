package io.robustok.train;

/** A checkpoint in the output directory was written for a different architecture; the message names the tensor. */
public final class CheckpointMismatchException extends io.robustok.config.InputError {
    public CheckpointMismatchException(String message) {
        super(message);
    }
}
