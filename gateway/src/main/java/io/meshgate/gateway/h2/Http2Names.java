package io.meshgate.gateway.h2;

import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.flush.FlushConsolidationHandler;

/**
 * Handler names of the h2 pipelines, in order. A downstream h2 connection (after {@code tls}) whose
 * route is an {@code http2}/{@code grpc} service (or has no route: its streams get the gateway's answer):
 * <pre>
 *   h2-flush (FlushConsolidationHandler) → h2-coalesce (FrameCoalescer) → h2-codec (Http2FrameCodec)
 *     → h2-guard (ConnectionGuard) → h2-relay (StreamRelay)
 * </pre>
 * whose streams are frame streams of the codec dispatched by {@code StreamRelay} to their
 * {@code DownstreamStream} (no child channels); one whose route is an {@code http} service:
 * <pre>
 *   h2-flush → h2-coalesce → h2-codec → h2-guard → h2-streams (Http2MultiplexHandler) → h2-end
 * </pre>
 * and each of its stream channels {@code h2-meter (StatusMeter) → h2-proxy (BridgedStream)}, which
 * becomes {@code h2-meter → h1-codec (Http2StreamFrameToHttpObjectCodec) → h1-bridge (Http1Bridge) → http
 * (HttpProxyHandler)} at the stream's first HEADERS. A pooled upstream h2 connection: {@code tls →
 * h2-flush → h2-coalesce → h2-codec → h2-upstream (H2Upstream)}, {@code tls} only with {@code tls.upstream: mtls};
 * its streams are frame streams of the codec, dispatched by {@code H2Upstream} to their
 * {@code UpstreamStream} (no child channels). An HTTP/1.1 caller's connection (after {@code tls}):
 * {@code http-codec (HttpServerCodec) → h1-meter (Http1StatusMeter) → http} ({@code HttpProxyHandler},
 * or {@code Http1ToH2} for {@code http2}/{@code grpc} services).
 */
final class Http2Names {
    static final String FLUSH = "h2-flush";
    static final String COALESCE = "h2-coalesce";
    static final String CODEC = "h2-codec";
    static final String GUARD = "h2-guard";
    static final String RELAY = "h2-relay";
    static final String STREAMS = "h2-streams";
    static final String END = "h2-end";
    static final String METER = "h2-meter";
    static final String PROXY = "h2-proxy";
    static final String H1_CODEC = "h1-codec";
    static final String H1_BRIDGE = "h1-bridge";
    static final String H1_METER = "h1-meter";
    static final String UPSTREAM = "h2-upstream";

    private static final int FLUSH_AFTER_FLUSHES = FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES;

    private Http2Names() {}

    /**
     * The flush coalescer of an h2 connection, between TLS and the frame codec. A stream's frames are
     * written by the other connection's events (a request read downstream goes out upstream, a
     * response read upstream goes out downstream), outside this connection's own read loop, where
     * Netty's multiplexer does not batch: every stream would flush on its own, one TLS record and
     * one {@code send} each. Consolidating also when no read is in progress defers those flushes to
     * one task at the end of the event loop's turn, so all the streams that turn served share one
     * record and one syscall per connection (what HAProxy's and Envoy's event loops do); a flush
     * still goes out at once when the connection turns unwritable, and after
     * {@value #FLUSH_AFTER_FLUSHES} consolidated flushes.
     */
    static FlushConsolidationHandler flushConsolidation() {
        return new FlushConsolidationHandler(FLUSH_AFTER_FLUSHES, true);
    }

    /** Raises the connection-level receive window from RFC 9113's 65535 to {@code window} (one WINDOW_UPDATE). */
    static void widenConnectionWindow(Http2FrameCodec codec, int window) {
        Http2Connection c = codec.connection();
        int delta = window - c.local().flowController().windowSize(c.connectionStream());
        if (delta > 0) {
            try {
                c.local().flowController().incrementWindowSize(c.connectionStream(), delta);
            } catch (Http2Exception e) {
                throw new IllegalStateException("cannot widen the connection window to " + window, e);
            }
        }
    }
}
