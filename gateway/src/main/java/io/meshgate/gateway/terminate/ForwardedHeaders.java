package io.meshgate.gateway.terminate;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.util.ArrayList;
import java.util.List;

/**
 * The header rules of the HTTP proxy. Connection management is per hop (hop-by-hop headers are
 * dropped both ways, so a client's {@code Connection: close} never costs a pooled upstream
 * connection); the caller's identity is forwarded in {@code X-Forwarded-Client-Cert} after any
 * value the client sent is removed (Envoy's behaviour, README). Host and everything end-to-end pass unchanged.
 */
final class ForwardedHeaders {

    static final AsciiString XFCC = AsciiString.cached("x-forwarded-client-cert");

    private static final List<AsciiString> HOP_BY_HOP = List.of(HttpHeaderNames.CONNECTION, HttpHeaderNames.KEEP_ALIVE,
            HttpHeaderNames.PROXY_CONNECTION, HttpHeaderNames.TE, HttpHeaderNames.UPGRADE, HttpHeaderNames.TRAILER,
            HttpHeaderNames.PROXY_AUTHORIZATION, HttpHeaderNames.PROXY_AUTHENTICATE);

    private ForwardedHeaders() {}

    /** Readies a downstream request for the upstream hop: HTTP/1.1, keep-alive, the caller's XFCC. */
    static void toUpstream(HttpRequest request, String forwardedClientCert) {
        HttpHeaders h = request.headers();
        dropHopByHop(h);
        h.remove(XFCC);
        h.set(XFCC, forwardedClientCert);
        request.setProtocolVersion(HttpVersion.HTTP_1_1);
    }

    /**
     * Readies an upstream response for the downstream hop; returns whether the downstream
     * connection stays open after it (it may not when the body is delimited by close and the
     * client cannot take chunks).
     */
    static boolean toDownstream(HttpResponse response, HttpVersion requestVersion, HttpMethod method, boolean keepAlive) {
        HttpHeaders h = response.headers();
        dropHopByHop(h);
        int code = response.status().code();
        boolean bodiless = method.equals(HttpMethod.HEAD) || code == 204 || code == 304 || code < 200;
        if (!bodiless && !HttpUtil.isContentLengthSet(response) && !HttpUtil.isTransferEncodingChunked(response)) {
            // The endpoint ends the body by closing; the downstream keeps its connection only with chunks.
            if (requestVersion.equals(HttpVersion.HTTP_1_1) && keepAlive) {
                h.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
            } else {
                keepAlive = false;
            }
        }
        if (requestVersion.equals(HttpVersion.HTTP_1_0)) {
            response.setProtocolVersion(HttpVersion.HTTP_1_0);
            if (HttpUtil.isTransferEncodingChunked(response)) {
                keepAlive = false; // an HTTP/1.0 client cannot take chunks: send the body raw, end it by closing
                h.remove(HttpHeaderNames.TRANSFER_ENCODING);
            }
        }
        HttpUtil.setKeepAlive(h, response.protocolVersion(), keepAlive);
        return keepAlive;
    }

    private static void dropHopByHop(HttpHeaders h) {
        List<String> named = new ArrayList<>();
        for (String value : h.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : value.split(",")) {
                String t = token.trim();
                if (!t.isEmpty() && !HttpHeaderNames.TRANSFER_ENCODING.contentEqualsIgnoreCase(t)
                        && !HttpHeaderNames.CONTENT_LENGTH.contentEqualsIgnoreCase(t)) {
                    named.add(t);
                }
            }
        }
        for (AsciiString name : HOP_BY_HOP) {
            h.remove(name);
        }
        for (String name : named) {
            h.remove(name);
        }
    }
}
