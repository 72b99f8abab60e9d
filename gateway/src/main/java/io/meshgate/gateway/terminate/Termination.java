package io.meshgate.gateway.terminate;

import io.meshgate.gateway.config.GatewaySpec.UpstreamTls;
import io.meshgate.gateway.h2.Http2Limits;
import io.meshgate.gateway.h2.Http2Termination;
import io.meshgate.tls.TlsMaterialSource;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;

/**
 * What a terminate listener adds to what every listener shares: the hot-reloaded TLS material,
 * how endpoints are reached ({@code tls.upstream}), the handshake timeout, the handshake meters,
 * the listener's pool of HTTP/1.1 upstream connections and its HTTP/2 part.
 */
public final class Termination {

    private final TlsMaterialSource tls;
    private final UpstreamTls upstream;
    private final Duration handshakeTimeout;
    private final HandshakeMetrics handshakes;
    private final HttpUpstreamPool pool;
    private final Http2Termination http2;

    public Termination(String listener, TlsMaterialSource tls, UpstreamTls upstream, Duration handshakeTimeout,
                       int upstreamPoolSize, MeterRegistry registry, Http2Limits http2) {
        this.tls = tls;
        this.upstream = upstream;
        this.handshakeTimeout = handshakeTimeout;
        this.handshakes = new HandshakeMetrics(registry, listener);
        this.pool = new HttpUpstreamPool(upstreamPoolSize, this);
        this.http2 = new Http2Termination(http2, registry, listener, tls, upstream == UpstreamTls.PLAINTEXT,
                handshakeTimeout, (connection, xfcc) -> new HttpProxyHandler(connection, xfcc, pool));
    }

    /** HTTP/2: limits, meters and the h2 upstream pool. */
    public Http2Termination http2() {
        return http2;
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
