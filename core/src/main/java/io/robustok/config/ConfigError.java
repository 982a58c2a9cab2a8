package io.robustok.config;

/** A configuration problem a person can fix; the message is one line that names the key and the fix. */
public final class ConfigError extends RuntimeException {
    public ConfigError(String message) {
        super(message);
    }
}
