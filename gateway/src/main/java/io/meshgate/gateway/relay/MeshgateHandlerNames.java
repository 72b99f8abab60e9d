package io.meshgate.gateway.relay;

/**
 * One constant per handler name in meshgate's pipelines (docs/architecture.md walks each path).
 * A passthrough or egress downstream (io.meshgate.gateway.listener.PassthroughPipeline):
 * <pre>
 *   hello (ClientHelloHandler)  → route (RouteSelector) → connect (UpstreamConnector) → relay (RelayHandler)
 * </pre>
 * A terminate downstream (io.meshgate.gateway.terminate.TerminatePipeline):
 * <pre>
 *   hello → route → tls (DownstreamTls, then the SslHandler it installs) → handshake (HandshakeHandler)
 *     TCP service:  tls → connect (UpstreamConnector with UpstreamOrigination) → relay
 *     HTTP service: tls → http-codec (HttpServerCodec) → http (HttpProxyHandler)
 * </pre>
 * Each stage removes itself when done, so an established connection carries only {@code relay}
 * (passthrough), {@code tls, relay} (terminate, TCP) or {@code tls, http-codec, http} (terminate,
 * HTTP). Upstream channels carry {@code relay} (passthrough), {@code tls, relay} (terminate, TCP),
 * or {@code tls, http-codec, exchange} (pooled HTTP); {@code tls} only with {@code tls.upstream: mtls},
 * followed by {@code upstream-handshake} (ends a failed upstream handshake's exception) until the
 * handshake succeeds. HTTP/2 adds its own names ({@code io.meshgate.gateway.h2.Http2Names}).
 */
public final class MeshgateHandlerNames {
    public static final String CLIENT_HELLO = "hello";
    public static final String ROUTE = "route";
    public static final String CONNECT = "connect";
    public static final String RELAY = "relay";
    public static final String TLS = "tls";
    public static final String HANDSHAKE = "handshake";
    public static final String HTTP_CODEC = "http-codec";
    public static final String HTTP = "http";
    public static final String EXCHANGE = "exchange";
    public static final String UPSTREAM_HANDSHAKE = "upstream-handshake";

    private MeshgateHandlerNames() {}
}
