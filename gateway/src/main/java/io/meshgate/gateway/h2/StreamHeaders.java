package io.meshgate.gateway.h2;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * The header rules of an h2 stream crossing the gateway (RFC 9113 8.2.2): connection-specific
 * fields never cross a hop, {@code te} only as {@code trailers}; the caller's identity goes
 * upstream in {@code X-Forwarded-Client-Cert} after any value the client sent is removed.
 * {@code :authority} and every end-to-end field pass unchanged.
 */
final class StreamHeaders {

    static final AsciiString XFCC = AsciiString.cached("x-forwarded-client-cert");

    private static final List<AsciiString> CONNECTION_SPECIFIC = List.of(HttpHeaderNames.CONNECTION,
            HttpHeaderNames.KEEP_ALIVE, HttpHeaderNames.PROXY_CONNECTION, HttpHeaderNames.TRANSFER_ENCODING,
            HttpHeaderNames.UPGRADE);

    private StreamHeaders() {}

    /** Readies a downstream request's headers for the upstream hop. */
    static Http2Headers toUpstream(Http2Headers h, String forwardedClientCert) {
        dropConnectionSpecific(h);
        h.remove(XFCC);
        h.set(XFCC, forwardedClientCert);
        return h;
    }

    /** Readies an endpoint's response headers or trailers for the downstream hop. */
    static Http2Headers toDownstream(Http2Headers h) {
        dropConnectionSpecific(h);
        return h;
    }

    private static void dropConnectionSpecific(Http2Headers h) {
        for (AsciiString name : CONNECTION_SPECIFIC) {
            h.remove(name);
        }
        CharSequence te = h.get(HttpHeaderNames.TE);
        if (te != null && !HttpHeaderValues.TRAILERS.contentEqualsIgnoreCase(te)) {
            h.remove(HttpHeaderNames.TE);
        }
    }

    /** A gRPC call ({@code content-type: application/grpc[+proto|;...]}), which wants gRPC-shaped errors. */
    static boolean isGrpc(Http2Headers h) {
        CharSequence type = h.get(HttpHeaderNames.CONTENT_TYPE);
        return type != null && AsciiString.regionMatches(type, true, 0, "application/grpc", 0, 16);
    }
}
