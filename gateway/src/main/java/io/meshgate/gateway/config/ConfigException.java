package io.meshgate.gateway.config;

/** A user mistake in the configuration: the message names the file or key and what is wrong (exit 2). */
public final class ConfigException extends RuntimeException {
    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
