package io.meshgate.gateway.terminate;

import io.meshgate.gateway.config.GatewaySpec.UpstreamTls;
import io.meshgate.tls.TlsMaterialSource;
import java.time.Duration;

/**
 * What a terminate listener adds to what every listener shares: the hot-reloaded TLS material,
 * how endpoints are reached ({@code tls.upstream}), the handshake timeout, the handshake meters
 * and the listener's pool of HTTP upstream connections.
 */
public final class Termination {

    private final TlsMaterialSource tls;
    private final UpstreamTls upstream;
    private final Duration handshakeTimeout;
    private final HandshakeMetrics handshakes;
    private final HttpUpstreamPool pool;

    public Termination(TlsMaterialSource tls, UpstreamTls upstream, Duration handshakeTimeout, int upstreamPoolSize,
                       HandshakeMetrics handshakes) {
        this.tls = tls;
        this.upstream = upstream;
        this.handshakeTimeout = handshakeTimeout;
        this.handshakes = handshakes;
        this.pool = new HttpUpstreamPool(upstreamPoolSize, this);
    }

    public TlsMaterialSource tls() {
        return tls;
    }

    public UpstreamTls upstream() {
        return upstream;
    }

    public Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    public HandshakeMetrics handshakes() {
        return handshakes;
    }

    public HttpUpstreamPool pool() {
        return pool;
    }
}
