package io.meshgate.gateway.outcome;

import java.util.Locale;
import org.slf4j.Logger;

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

    /** The debug line of a refused connection, the same on every path: {@code <listener> <peer> refused: <label> (sni <name>)}. */
    public void logRefusal(Logger log, String listener, Object peer, String serverName) {
        if (log.isDebugEnabled()) {
            log.debug("{} {} refused: {} (sni {})", listener, peer, label, serverName);
        }
    }
}
