package io.meshgate.gateway.outcome;

import java.util.Locale;

/**
 * The fate of one accepted connection, counted once in
 * {@code meshgate_downstream_connections_total{listener,outcome}} (README "Metrics reference"). Its own
 * package, below both the data path that decides it and the metrics that count it.
 */
public enum Outcome {
    ROUTED, NO_SNI, NO_ROUTE, BAD_HELLO, TIMEOUT, DENIED, TLS_ERROR, UPSTREAM_FAILED, OVERLOAD;

    private final String label = name().toLowerCase(Locale.ROOT);

    public String label() {
        return label;
    }
}
