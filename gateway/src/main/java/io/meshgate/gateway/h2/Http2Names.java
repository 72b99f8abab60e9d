package io.meshgate.gateway.h2;

import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;

/**
 * Handler names of the h2 pipelines, in order. A downstream h2 connection (after {@code tls}):
 * <pre>
 *   h2-codec (Http2FrameCodec) → h2-guard (ConnectionGuard) → h2-streams (Http2MultiplexHandler) → h2-end
 * </pre>
 * and each of its streams: {@code h2-meter (StatusMeter) → h2-proxy (StreamProxy)}, or for an
 * {@code http} service {@code h2-meter → h1-codec (Http2StreamFrameToHttpObjectCodec) → h1-bridge → http
 * (HttpProxyHandler)}. A pooled upstream h2 connection: {@code tls → h2-codec → h2-streams →
 * h2-upstream (H2Upstream)}, {@code tls} only with {@code tls.upstream: mtls}; each of its streams
 * carries {@code h2-upstream-stream (UpstreamStream)}. An HTTP/1.1 caller's connection (after
 * {@code tls}): {@code http-codec (HttpServerCodec) → h1-meter (Http1StatusMeter) → http}
 * ({@code HttpProxyHandler}, or {@code Http1ToH2} for {@code http2}/{@code grpc} services).
 */
final class Http2Names {
    static final String CODEC = "h2-codec";
    static final String GUARD = "h2-guard";
    static final String STREAMS = "h2-streams";
    static final String END = "h2-end";
    static final String METER = "h2-meter";
    static final String PROXY = "h2-proxy";
    static final String H1_CODEC = "h1-codec";
    static final String H1_BRIDGE = "h1-bridge";
    static final String H1_METER = "h1-meter";
    static final String UPSTREAM = "h2-upstream";
    static final String UPSTREAM_STREAM = "h2-upstream-stream";

    private Http2Names() {}

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
