package io.robustok.data;

/** Input that prep cannot work with and a person can fix (missing path, unrecognised layout, bad label file). */
public class PrepInputException extends io.robustok.config.InputError {
    public PrepInputException(String message) {
        super(message);
    }
}
