package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.tls.TlsMaterialSource;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.channel.ChannelHandler;
import java.time.Duration;

/**
 * What HTTP/2 adds to a terminate listener: its limits, its meters, the log line for abusive
 * connections and its pool of h2 upstream connections, plus what it takes from its listener (the
 * TLS material upstreams are secured with, and the HTTP/1.1 proxy that serves an h2 stream to an
 * {@code http} service). Built once per listener, by the terminate stage.
 */
public final class Http2Termination {

    /** Makes the HTTP/1.1 proxy stage for one h2 stream to an {@code http} service. */
    @FunctionalInterface
    public interface Http1Proxy {
        ChannelHandler handler(Connection connection, String forwardedClientCert);
    }

    private final Http2Limits limits;
    private final Http2Metrics metrics;
    private final AbuseLog abuse;
    private final TlsMaterialSource tls;
    private final boolean plaintextUpstream;
    private final Duration handshakeTimeout;
    private final Http1Proxy http1;
    private volatile H2UpstreamPool pool;

    /**
     * @param tls               the listener's TLS material (upstream mTLS with the gateway identity)
     * @param plaintextUpstream {@code tls.upstream: plaintext}: h2c with prior knowledge instead of mTLS
     * @param handshakeTimeout  for upstream handshakes
     * @param http1             the HTTP/1.1 proxy stage for streams to {@code http} services
     */
    public Http2Termination(Http2Limits limits, MeterRegistry registry, String listener, TlsMaterialSource tls,
                            boolean plaintextUpstream, Duration handshakeTimeout, Http1Proxy http1) {
        this.limits = limits;
        this.metrics = new Http2Metrics(registry, listener);
        this.abuse = new AbuseLog(listener);
        this.tls = tls;
        this.plaintextUpstream = plaintextUpstream;
        this.handshakeTimeout = handshakeTimeout;
        this.http1 = http1;
    }

    TlsMaterialSource tls() {
        return tls;
    }

    boolean plaintextUpstream() {
        return plaintextUpstream;
    }

    Duration handshakeTimeout() {
        return handshakeTimeout;
    }

    Http1Proxy http1() {
        return http1;
    }

    /** The pool needs the listener's dialer and TLS; both exist once the listener context does. */
    H2UpstreamPool pool(ListenerContext listener) {
        H2UpstreamPool p = pool;
        if (p == null) {
            synchronized (this) {
                if (pool == null) {
                    pool = new H2UpstreamPool(listener, this);
                }
                p = pool;
            }
        }
        return p;
    }

    Http2Limits limits() {
        return limits;
    }

    Http2Metrics metrics() {
        return metrics;
    }

    AbuseLog abuse() {
        return abuse;
    }
}
