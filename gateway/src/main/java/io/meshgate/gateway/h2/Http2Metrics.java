package io.meshgate.gateway.h2;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The HTTP/2 meters of one terminate listener, registered once so the data path only increments:
 * requests by downstream protocol and status class, upstream h2 connections and their active
 * streams, GOAWAYs sent and received, and stream resets by cause.
 */
public final class Http2Metrics {

    /** Why a stream was reset (or answered in place of the endpoint). */
    public enum ResetCause {
        /** The client reset its stream. */
        DOWNSTREAM("downstream"),
        /** The endpoint reset the stream or its connection went away mid-stream. */
        UPSTREAM("upstream"),
        /** {@code grpc-timeout} expired: the upstream stream was cancelled. */
        DEADLINE("deadline"),
        /** The connection broke the premature-reset rule (rapid reset) and was closed. */
        PREMATURE("premature"),
        /** Netty's limits closed the connection (floods, header list, protocol errors). */
        PROTOCOL("protocol");

        final String label;

        ResetCause(String label) {
            this.label = label;
        }
    }

    private final Map<ResetCause, Counter> resets = new EnumMap<>(ResetCause.class);
    private final Counter[] h2Requests;
    private final Counter[] http1Requests;
    private final Counter goAwaysSent;
    private final Counter goAwaysReceived;
    private final Counter sentAgainAfterGoAway;
    private final Counter sentAgainAfterRefusal;
    private final AtomicInteger upstreamConnections = new AtomicInteger();
    private final AtomicInteger upstreamStreams = new AtomicInteger();

    public Http2Metrics(MeterRegistry registry, String listener) {
        h2Requests = requests(registry, listener, "h2");
        http1Requests = requests(registry, listener, "http/1.1");
        for (ResetCause c : ResetCause.values()) {
            resets.put(c, Counter.builder("meshgate.http2.resets")
                    .description("HTTP/2 streams reset or cut short, by cause")
                    .tags("listener", listener, "cause", c.label).register(registry));
        }
        goAwaysSent = Counter.builder("meshgate.http2.goaways").description("GOAWAY frames, by direction")
                .tags("listener", listener, "direction", "sent").register(registry);
        goAwaysReceived = Counter.builder("meshgate.http2.goaways").description("GOAWAY frames, by direction")
                .tags("listener", listener, "direction", "received").register(registry);
        sentAgainAfterGoAway = retries(registry, listener, "goaway");
        sentAgainAfterRefusal = retries(registry, listener, "refused_stream");
        Gauge.builder("meshgate.http2.upstream.connections", upstreamConnections, AtomicInteger::get)
                .description("Open HTTP/2 connections to endpoints").tag("listener", listener).register(registry);
        Gauge.builder("meshgate.http2.upstream.streams.active", upstreamStreams, AtomicInteger::get)
                .description("Streams open now on HTTP/2 connections to endpoints").tag("listener", listener).register(registry);
    }

    /** {@code meshgate.http.requests} of one downstream protocol: [0] {@code reset}, [1..5] {@code 1xx..5xx}. */
    private static Counter[] requests(MeterRegistry registry, String listener, String protocol) {
        Counter[] counters = new Counter[6];
        for (int i = 0; i <= 5; i++) {
            counters[i] = Counter.builder("meshgate.http.requests")
                    .description("HTTP requests answered on terminate listeners, by downstream protocol and status class")
                    .tags("listener", listener, "protocol", protocol, "status", i == 0 ? "reset" : i + "xx").register(registry);
        }
        return counters;
    }

    /** A downstream h2 stream got a response with {@code status}, or 0 when it ended in a reset. */
    void answered(int status) {
        h2Requests[statusClass(status)].increment();
    }

    /** A downstream HTTP/1.1 request got a response with {@code status}, or 0 when its connection ended first. */
    void http1Answered(int status) {
        http1Requests[statusClass(status)].increment();
    }

    private static int statusClass(int status) {
        int klass = status / 100;
        return klass >= 1 && klass <= 5 ? klass : 0;
    }

    void reset(ResetCause cause) {
        resets.get(cause).increment();
    }

    void goAwaySent() {
        goAwaysSent.increment();
    }

    void goAwayReceived() {
        goAwaysReceived.increment();
    }

    /** A request sent again: its endpoint refused the stream ({@code refused}) or its GOAWAY left the stream unprocessed. */
    void sentAgain(boolean refused) {
        (refused ? sentAgainAfterRefusal : sentAgainAfterGoAway).increment();
    }

    private static Counter retries(MeterRegistry registry, String listener, String cause) {
        return Counter.builder("meshgate.http2.upstream.retries")
                .description("Requests sent again because the endpoint left their stream unprocessed (GOAWAY, REFUSED_STREAM)")
                .tags("listener", listener, "cause", cause).register(registry);
    }

    AtomicInteger upstreamConnections() {
        return upstreamConnections;
    }

    AtomicInteger upstreamStreams() {
        return upstreamStreams;
    }
}
