package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.ListenerContext;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * What HTTP/2 adds to a terminate listener: its limits, its meters, the log line for abusive
 * connections and its pool of h2 upstream connections. Built once per listener.
 */
public final class Http2Termination {

    private final Http2Limits limits;
    private final Http2Metrics metrics;
    private final AbuseLog abuse;
    private volatile H2UpstreamPool pool;

    public Http2Termination(Http2Limits limits, MeterRegistry registry, String listener) {
        this.limits = limits;
        this.metrics = new Http2Metrics(registry, listener);
        this.abuse = new AbuseLog(listener);
    }

    /** The pool needs the listener's dialer and TLS; both exist once the listener context does. */
    H2UpstreamPool pool(ListenerContext listener) {
        H2UpstreamPool p = pool;
        if (p == null) {
            synchronized (this) {
                if (pool == null) {
                    pool = new H2UpstreamPool(listener, limits, metrics);
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
