package io.robustok.cli;

/** Bad input a person can fix: the CLI prints the message as one line and exits 1. */
public class UserError extends io.robustok.config.InputError {
    public UserError(String message) {
        super(message);
    }

    public UserError(String message, Throwable cause) {
        super(message, cause);
    }
}
