package io.robustok.config;

/**
 * Bad input a person can fix: a missing, truncated or mismatched file, an output path that cannot be written.
 * The message is one line naming the input, what was expected and the fix; the CLI prints it and exits 1.
 */
public class InputError extends RuntimeException {
    public InputError(String message) {
        super(message);
    }

    public InputError(String message, Throwable cause) {
        super(message, cause);
    }
}
