package io.meshgate.gateway.h2;

import io.meshgate.gateway.h2.Http2Metrics.ResetCause;
import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.upstream.Route;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.PipelinedRequests;
import io.meshgate.gateway.relay.Reading;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.Resolution;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.handler.codec.http2.HttpConversionUtil;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;

/**
 * Stage 5 of terminate for an HTTP/1.1 caller of an {@code http2}/{@code grpc} service: every
 * request is routed and balanced on its own (the picker chooses an endpoint per request, as for h2
 * streams) and goes as one stream on the listener's pooled h2 connections. Headers are translated
 * by Netty's {@link HttpConversionUtil} (Host becomes {@code :authority}; connection-specific
 * fields, those the {@code Connection} header names and {@code TE} other than {@code trailers} are
 * dropped), then get the h2 hop rules and XFCC of {@link StreamHeaders}; response trailers come
 * back as chunked trailers. One exchange at a time; pipelined requests wait. A request that cannot
 * be served is answered by the gateway (gRPC-shaped for gRPC requests) and the connection closed.
 * Backpressure is per exchange, both directions, as in {@link DownstreamStream}.
 */
final class Http1ToH2 extends ChannelInboundHandlerAdapter implements UpstreamStream.Receiver {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Http1ToH2.class);

    private final Connection connection;
    private final Http2Termination h2;
    private final String forwardedClientCert;
    /** Requests read while another exchange is still answering (pipelining). */
    private final PipelinedRequests pipelined = new PipelinedRequests();
    /** DATA and trailers of the exchange's request made before its upstream stream is open. */
    private final ArrayDeque<Http2StreamFrame> pending = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private boolean closing;
    private boolean inputDone;

    // The exchange in flight (inFlight true).
    private boolean inFlight;
    private HttpVersion version;
    private HttpMethod method;
    private boolean keepAlive;
    private boolean grpc;
    /** END_STREAM went (or is queued) upstream. */
    private boolean requestDone;
    /** The caller's request ended (its last content was read). */
    private boolean requestRead;
    private boolean responseStarted;
    private boolean chunked;
    private UpstreamAttempt attempt;
    private UpstreamStream upstream;

    Http1ToH2(Connection connection, Http2Termination h2, String forwardedClientCert) {
        this.connection = connection;
        this.h2 = h2;
        this.forwardedClientCert = forwardedClientCert;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        Reading.set(ctx.channel(), true);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (closing) {
            ReferenceCountUtil.release(msg);
        } else if (!pipelined.hold(ctx.channel(), (HttpObject) msg, inFlight && requestRead)) {
            fromDownstream((HttpObject) msg);
        }
    }

    private void fromDownstream(HttpObject msg) {
        if (msg instanceof HttpRequest req) {
            if (req.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                answer(HttpResponseStatus.BAD_REQUEST, GrpcAnswers.UNAVAILABLE, "bad request: " + req.decoderResult().cause().getMessage());
                return;
            }
            start(req);
        }
        if (msg instanceof HttpContent content) {
            boolean last = content instanceof LastHttpContent;
            if (inFlight && last) {
                requestRead = true;
            }
            if (!inFlight || requestDone) {
                content.release(); // the tail of a request already answered, or a bodiless request's empty end
                return;
            }
            HttpHeaders trailing = last ? ((LastHttpContent) content).trailingHeaders() : null;
            boolean trailers = trailing != null && !trailing.isEmpty();
            if (content.content().isReadable() || !trailers) {
                toUpstream(new DefaultHttp2DataFrame(content.content(), last && !trailers)); // the payload changes hands
            } else {
                content.release();
            }
            if (trailers) {
                Http2Headers h = HttpConversionUtil.toHttp2Headers(trailing, true);
                toUpstream(new DefaultHttp2HeadersFrame(StreamHeaders.toDownstream(h), true));
            }
            if (last) {
                requestDone = true;
                if (upstream != null) {
                    upstream.flush();
                }
            }
        }
    }

    private void start(HttpRequest req) {
        inFlight = true;
        version = req.protocolVersion();
        method = req.method();
        keepAlive = HttpUtil.isKeepAlive(req) && !inputDone;
        grpc = false;
        requestDone = false;
        requestRead = false;
        responseStarted = false;
        chunked = false;
        Http2Headers headers;
        try {
            if (!req.headers().contains(HttpConversionUtil.ExtensionHeaderNames.SCHEME.text())) {
                req.headers().set(HttpConversionUtil.ExtensionHeaderNames.SCHEME.text(), "https");
            }
            headers = HttpConversionUtil.toHttp2Headers(req, true);
        } catch (RuntimeException e) { // a header h2 cannot carry
            answer(HttpResponseStatus.BAD_REQUEST, GrpcAnswers.UNAVAILABLE, "bad request: " + e.getMessage());
            return;
        }
        grpc = StreamHeaders.isGrpc(headers);
        // No body (no length, not chunked, or length 0): END_STREAM on the headers; the empty end is dropped.
        boolean bodiless = !HttpUtil.isTransferEncodingChunked(req) && HttpUtil.getContentLength(req, 0L) == 0L;
        Http2Headers upstreamHeaders = StreamHeaders.toUpstream(headers, forwardedClientCert);
        requestDone = bodiless;
        Resolution route = connection.listener().router().resolve(connection.serverName());
        if (!(route instanceof Resolution.Routed routed)) {
            connection.outcome(Outcome.NO_ROUTE);
            answer(HttpResponseStatus.SERVICE_UNAVAILABLE, GrpcAnswers.UNAVAILABLE, "no healthy endpoints for " + connection.serverName());
            return;
        }
        Reading.set(ctx.channel(), false); // until the upstream stream can take the body
        attempt = UpstreamAttempt.start(connection, h2, ctx.channel().eventLoop(),
                connection.listener().upstreams().pick(Route.of(routed)), upstreamHeaders, bodiless, this,
                new UpstreamAttempt.Exchange() {
                    @Override
                    public void opened(UpstreamStream up, Endpoint target) {
                        upstreamReady(up);
                    }

                    @Override
                    public void failed(Throwable cause) {
                        connection.outcome(Outcome.UPSTREAM_FAILED);
                        // The caller is in another cluster: the answer names the service, never the cause or an address.
                        log.debug("{} {}: no endpoint took the request: {}", connection.listener().name(),
                                connection.serverName(), cause.toString());
                        answer(HttpResponseStatus.BAD_GATEWAY, GrpcAnswers.UNAVAILABLE, "upstream unavailable for "
                                + connection.serverName());
                    }
                });
    }

    private void upstreamReady(UpstreamStream up) {
        if (closing || !inFlight) {
            up.close();
            return;
        }
        upstream = up;
        connection.outcome(Outcome.ROUTED);
        Http2StreamFrame frame;
        while ((frame = pending.poll()) != null) {
            up.write(frame);
        }
        up.flush();
        up.reading(ctx.channel().isWritable());
        if (!requestDone) {
            Reading.set(ctx.channel(), up.isWritable());
        }
    }

    private void toUpstream(Http2StreamFrame frame) {
        if (upstream == null) {
            pending.add(frame);
            return;
        }
        upstream.write(frame);
        if (!upstream.isWritable()) {
            Reading.set(ctx.channel(), false);
        }
    }

    @Override
    public void fromUpstream(UpstreamStream from, Http2StreamFrame msg) {
        if (from != upstream) {
            ReferenceCountUtil.release(msg);
            return;
        }
        Channel down = ctx.channel();
        if (msg instanceof Http2HeadersFrame frame) {
            if (!responseStarted) {
                response(frame);
            } else {
                // Trailers: carried by the chunked encoding only (a length-delimited response has no place for them).
                LastHttpContent last = new DefaultLastHttpContent();
                if (chunked) {
                    try {
                        HttpConversionUtil.addHttp2ToHttpHeaders(0, StreamHeaders.toDownstream(frame.headers()),
                                last.trailingHeaders(), HttpVersion.HTTP_1_1, true, false);
                    } catch (Http2Exception e) {
                        last.release();
                        upstreamFailed("endpoint sent trailers HTTP/1.1 cannot carry: " + e.getMessage());
                        return;
                    }
                }
                down.write(last, down.voidPromise());
                responseDone();
            }
        } else if (msg instanceof Http2DataFrame data) {
            if (!responseStarted) {
                data.release();
                upstreamFailed("endpoint sent DATA before HEADERS");
                return;
            }
            ByteBuf content = data.content();
            down.write(data.isEndStream() ? new DefaultLastHttpContent(content) : new DefaultHttpContent(content), down.voidPromise());
            if (data.isEndStream()) {
                responseDone();
            } else if (!down.isWritable()) {
                from.reading(false);
            }
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    /** The endpoint's response headers as an HTTP/1.1 response head (1xx passed on as they come). */
    private void response(Http2HeadersFrame frame) {
        Channel down = ctx.channel();
        HttpResponse response;
        try {
            response = HttpConversionUtil.toHttpResponse(0, StreamHeaders.toDownstream(frame.headers()), true);
        } catch (Http2Exception | RuntimeException e) {
            upstreamFailed("endpoint sent a response HTTP/1.1 cannot carry: " + e.getMessage());
            return;
        }
        HttpHeaders h = response.headers();
        for (HttpConversionUtil.ExtensionHeaderNames name : HttpConversionUtil.ExtensionHeaderNames.values()) {
            h.remove(name.text());
        }
        int code = response.status().code();
        if (code >= 100 && code < 200) {
            down.write(response, down.voidPromise());
            down.write(LastHttpContent.EMPTY_LAST_CONTENT, down.voidPromise());
            return;
        }
        responseStarted = true;
        boolean bodiless = method.equals(HttpMethod.HEAD) || code == 204 || code == 304;
        if (frame.isEndStream()) {
            if (!bodiless) {
                HttpUtil.setContentLength(response, 0);
            }
        } else if (!bodiless && !HttpUtil.isContentLengthSet(response)) {
            if (version.equals(HttpVersion.HTTP_1_1)) {
                HttpUtil.setTransferEncodingChunked(response, true);
                chunked = true;
            } else {
                keepAlive = false; // HTTP/1.0: the body ends with the connection
            }
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        response.setProtocolVersion(version);
        down.write(response, down.voidPromise());
        if (frame.isEndStream()) {
            down.write(LastHttpContent.EMPTY_LAST_CONTENT, down.voidPromise());
            responseDone();
        }
    }

    /** The response is complete: the downstream goes on to its next request, or closes. */
    private void responseDone() {
        UpstreamStream up = upstream;
        upstream = null;
        inFlight = false;
        if (up != null && !requestDone) {
            // The endpoint answered before the whole request arrived: the rest is not wanted, the connection is out of step.
            up.reset(Http2Error.NO_ERROR.code());
            keepAlive = false;
        }
        if (!keepAlive) {
            closeAfterFlush();
            return;
        }
        ctx.channel().flush();
        pipelined.resume(this::fromDownstream, () -> closing || inFlight && requestRead);
        if (!inFlight || !requestRead) {
            Reading.set(ctx.channel(), !inFlight || upstream != null && upstream.isWritable());
        }
    }

    @Override
    public void upstreamReset(UpstreamStream from, long errorCode) {
        if (from == upstream) {
            upstreamFailed("upstream reset the stream (" + Http2Error.valueOf(errorCode) + ")");
        }
    }

    /** The endpoint's GOAWAY left the stream unprocessed, and only its HEADERS went out: sent again elsewhere. */
    @Override
    public void upstreamUnprocessed(UpstreamStream from) {
        if (from != upstream) {
            return;
        }
        if (attempt == null || !attempt.canSendAgain()) {
            upstreamReset(from, Http2Error.REFUSED_STREAM.code());
            return;
        }
        upstream = null;
        Reading.set(ctx.channel(), false); // until the new stream can take the body
        attempt = attempt.again(from); // may open at once, and call upstreamReady before it returns
    }

    @Override
    public void upstreamReadComplete() {
        ctx.channel().flush();
    }

    @Override
    public void upstreamWritabilityChanged(UpstreamStream from) {
        if (from == upstream && !requestDone) {
            Reading.set(ctx.channel(), from.isWritable());
        }
    }

    @Override
    public void upstreamClosed(UpstreamStream from) {
        if (from == upstream) {
            upstreamFailed("upstream connection closed mid-stream");
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (upstream != null) {
            upstream.flush();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (upstream != null) {
            upstream.reading(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    private void upstreamFailed(String why) {
        h2.metrics().reset(ResetCause.UPSTREAM);
        connection.outcome(Outcome.UPSTREAM_FAILED);
        UpstreamStream up = upstream;
        upstream = null;
        if (up != null) {
            up.close(); // RST_STREAM(CANCEL) if the stream is still open
        }
        if (responseStarted) {
            log.debug("{} {} response cut short: {}", connection.listener().name(), ctx.channel().remoteAddress(), why);
            closing = true;
            release();
            ctx.channel().close();
        } else {
            answer(HttpResponseStatus.BAD_GATEWAY, GrpcAnswers.UNAVAILABLE, why + " (" + connection.serverName() + ")");
        }
    }

    /**
     * The gateway answers the request itself and closes the connection: a gRPC call gets HTTP 200
     * with {@code grpc-status}, others {@code status} with a plain-text reason naming the service.
     */
    private void answer(HttpResponseStatus status, int grpcStatus, String why) {
        if (closing) {
            return;
        }
        if (attempt != null) {
            attempt.abandon();
            attempt = null;
        }
        Channel down = ctx.channel();
        log.debug("{} {} answered {}: {}", connection.listener().name(), down.remoteAddress(),
                grpc ? "grpc-status " + grpcStatus : status.code(), why);
        Http2Headers headers;
        ByteBuf body = null;
        if (grpc) {
            headers = GrpcAnswers.grpc(grpcStatus, why);
        } else {
            body = GrpcAnswers.plainBody(down.alloc(), why);
            headers = GrpcAnswers.plain(status.code(), body.readableBytes());
        }
        keepAlive = false;
        HttpResponse response;
        try {
            response = HttpConversionUtil.toHttpResponse(0, headers, false);
        } catch (Http2Exception e) {
            throw new IllegalStateException(e); // the gateway's own answer is always valid
        }
        for (HttpConversionUtil.ExtensionHeaderNames name : HttpConversionUtil.ExtensionHeaderNames.values()) {
            response.headers().remove(name.text());
        }
        if (body == null) {
            HttpUtil.setContentLength(response, 0);
        }
        HttpUtil.setKeepAlive(response, false);
        down.write(response, down.voidPromise());
        down.write(body == null ? LastHttpContent.EMPTY_LAST_CONTENT : new DefaultLastHttpContent(body), down.voidPromise());
        closeAfterFlush();
    }

    private void closeAfterFlush() {
        closing = true;
        inFlight = false;
        release();
        ctx.channel().writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
    }

    private void release() {
        pending.forEach(ReferenceCountUtil::release);
        pending.clear();
        pipelined.release();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent || evt instanceof SslCloseCompletionEvent) {
            // The client sends nothing more: answer what is in flight, then close.
            if (!inFlight && pipelined.isEmpty()) {
                closing = true;
                ctx.close();
            } else {
                inputDone = true;
                keepAlive = false;
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        if (attempt != null) {
            attempt.abandon();
            attempt = null;
        }
        UpstreamStream up = upstream;
        upstream = null;
        if (up != null) {
            up.close(); // RST_STREAM(CANCEL) for a stream still open
        }
        release();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (log.isDebugEnabled()) {
            log.debug("{} {}: {}", connection.listener().name(), ctx.channel().remoteAddress(), cause.toString());
        }
        ctx.close();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        release();
    }
}
