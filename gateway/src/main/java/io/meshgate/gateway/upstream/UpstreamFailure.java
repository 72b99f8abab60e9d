package io.meshgate.gateway.upstream;

import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.routing.Endpoint;

/**
 * The one place an upstream failure (a dial, an upstream handshake, a pool at its bound) becomes
 * the connection's {@link Outcome}: every stage that reaches upstreams asks here.
 */
public final class UpstreamFailure {

    private UpstreamFailure() {}

    /** Every pooled connection to the endpoint the picker chose is busy ({@code limits.upstreamPoolSize}). */
    public static final class PoolExhausted extends Exception {
        public PoolExhausted(Endpoint endpoint, int size) {
            super("all " + size + " pooled connections to " + endpoint + " are busy", null, false, false);
        }
    }

    /** {@code overload} for a pool at its bound, else {@code upstream_failed}. */
    public static Outcome outcome(Throwable cause) {
        return cause instanceof PoolExhausted ? Outcome.OVERLOAD : Outcome.UPSTREAM_FAILED;
    }
}
