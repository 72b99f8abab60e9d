package io.meshgate.gateway.terminate;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.PipelinedRequests;
import io.meshgate.gateway.relay.Reading;
import io.meshgate.gateway.upstream.Route;
import io.meshgate.gateway.upstream.UpstreamFailure;
import io.meshgate.routing.OutboundSni;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Stage 5 (terminate, HTTP services): proxies HTTP/1.1 exchanges, one at a time, from a verified
 * downstream to pooled upstream connections. Bodies stream in both directions with backpressure
 * (a side that cannot write pauses the other side's reads; nothing is aggregated). Each request
 * carries the caller's identity in {@code X-Forwarded-Client-Cert}. Failures answer as a proxy
 * does: 502 when the endpoint cannot be reached, secured or understood, 503 when nothing may
 * receive traffic or the pool is exhausted; the downstream connection closes after an error.
 * Pipelined requests wait (reads paused) until the exchange before them is done.
 */
public final class HttpProxyHandler extends ChannelInboundHandlerAdapter implements PooledUpstream.Exchange {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(HttpProxyHandler.class);

    private final Connection connection;
    private final String forwardedClientCert;
    private final HttpUpstreamPool pool;
    /** Requests that arrived while another exchange was still answering (pipelining). */
    private final PipelinedRequests pipelined = new PipelinedRequests();
    private ChannelHandlerContext ctx;
    private boolean closing;
    /** The client half-closed or sent close_notify: no request after the ones already read. */
    private boolean inputDone;

    // The exchange in flight (request != null).
    private HttpRequest request;
    private HttpVersion requestVersion;
    private HttpMethod method;
    private boolean keepAlive;
    private boolean requestDone;
    private boolean responseStarted;
    private boolean informational;
    private boolean upstreamReusable;
    /** Request parts held until the upstream connection is ready. */
    private final List<HttpObject> waiting = new ArrayList<>();
    private Future<PooledUpstream> acquiring;
    private PooledUpstream upstream;
    /** The connection's routing name, parsed at its first request (the SNI does not change); empty: not one. */
    private Optional<OutboundSni> routingName;

    public HttpProxyHandler(Connection connection, String forwardedClientCert, HttpUpstreamPool pool) {
        this.connection = connection;
        this.forwardedClientCert = forwardedClientCert;
        this.pool = pool;
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
        } else if (!pipelined.hold(ctx.channel(), (HttpObject) msg, request != null && requestDone)) {
            fromDownstream((HttpObject) msg);
        }
    }

    private void fromDownstream(HttpObject msg) {
        if (msg instanceof HttpRequest req) {
            if (req.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                fail(HttpResponseStatus.BAD_REQUEST, null, "bad request: " + req.decoderResult().cause().getMessage());
                return;
            }
            start(req);
        }
        if (msg instanceof HttpContent content) {
            if (request == null) {
                content.release(); // the tail of a request already answered
                return;
            }
            boolean last = content instanceof LastHttpContent;
            if (upstream == null) {
                waiting.add(content);
            } else {
                Channel up = upstream.channel();
                up.write(content, up.voidPromise());
                if (!up.isWritable()) {
                    Reading.set(ctx.channel(), false);
                }
            }
            if (last) {
                requestDone = true;
                if (upstream != null) {
                    upstream.channel().flush();
                }
            }
        }
    }

    private void start(HttpRequest req) {
        request = req;
        requestVersion = req.protocolVersion();
        method = req.method();
        keepAlive = HttpUtil.isKeepAlive(req) && !inputDone;
        requestDone = false;
        responseStarted = false;
        informational = false;
        upstreamReusable = false;
        ForwardedHeaders.toUpstream(req, forwardedClientCert);
        waiting.add(req);
        // Endpoints are looked up per request: a long keep-alive connection follows endpoint changes.
        // The picker runs once for the request; the pool reuses or dials exactly what it chose.
        if (routingName == null) {
            routingName = OutboundSni.parse(connection.serverName());
        }
        Route route = Route.of(connection.listener().router().resolve(routingName));
        if (route == null) {
            fail(HttpResponseStatus.SERVICE_UNAVAILABLE, Outcome.NO_ROUTE, "no healthy endpoints for " + connection.serverName());
            return;
        }
        Future<PooledUpstream> pending = pool.acquire(connection, connection.listener().upstreams().pick(route));
        boolean pooled = pending.isDone(); // an idle pooled connection: no need to pause reads or flush early
        if (!pooled) {
            acquiring = pending;
            Reading.set(ctx.channel(), false); // until the upstream can take the body
        }
        pending.addListener((Future<PooledUpstream> f) -> {
            acquiring = null;
            if (f.isCancelled()) {
                return;
            }
            if (!f.isSuccess()) {
                Outcome outcome = UpstreamFailure.outcome(f.cause());
                if (outcome == Outcome.OVERLOAD) {
                    fail(HttpResponseStatus.SERVICE_UNAVAILABLE, outcome, f.cause().getMessage());
                } else {
                    fail(HttpResponseStatus.BAD_GATEWAY, outcome, "upstream unavailable: " + f.cause());
                }
                return;
            }
            if (closing || !ctx.channel().isActive()) {
                pool.release(f.getNow(), false);
                return;
            }
            upstreamReady(f.getNow(), !pooled);
        });
    }

    /** {@code flush}: false when called within the downstream's read, whose completion flushes. */
    private void upstreamReady(PooledUpstream up, boolean flush) {
        upstream = up;
        up.exchange(this);
        connection.outcome(Outcome.ROUTED);
        Channel ch = up.channel();
        for (HttpObject part : waiting) {
            ch.write(part, ch.voidPromise());
        }
        waiting.clear();
        if (flush) {
            ch.flush();
        }
        if (!requestDone) {
            Reading.set(ctx.channel(), ch.isWritable());
        }
    }

    @Override
    public void fromUpstream(Object msg) {
        Channel down = ctx.channel();
        if (msg instanceof HttpResponse response) {
            if (response.decoderResult().isFailure()) {
                ReferenceCountUtil.release(msg);
                upstreamFailed(response.decoderResult().cause());
                return;
            }
            int code = response.status().code();
            informational = code >= 100 && code < 200 && code != 101;
            if (!informational) {
                responseStarted = true;
                upstreamReusable = HttpUtil.isKeepAlive(response);
                keepAlive = ForwardedHeaders.toDownstream(response, requestVersion, method, keepAlive);
            }
        }
        if (msg instanceof LastHttpContent) {
            down.write(msg, down.voidPromise());
            if (informational) {
                informational = false; // the final response is still to come
                return;
            }
            down.flush();
            finish();
            return;
        }
        down.write(msg, down.voidPromise());
        if (!down.isWritable() && upstream != null) {
            Reading.set(upstream.channel(), false);
        }
    }

    @Override
    public void upstreamReadComplete() {
        ctx.channel().flush();
    }

    @Override
    public void upstreamWritabilityChanged(boolean writable) {
        if (!requestDone) {
            Reading.set(ctx.channel(), writable);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (upstream != null) {
            Reading.set(upstream.channel(), ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (upstream != null) {
            upstream.channel().flush();
        }
    }

    /** The response is complete: the upstream goes back to the pool, the downstream on to its next request. */
    private void finish() {
        PooledUpstream up = upstream;
        upstream = null;
        up.exchange(null);
        // An endpoint that answered before the whole request was sent is out of step for reuse.
        pool.release(up, upstreamReusable && requestDone);
        boolean stayOpen = keepAlive && requestDone;
        request = null;
        if (!stayOpen) {
            closing = true;
            releaseQueued();
            ctx.channel().writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        pipelined.resume(this::fromDownstream, () -> closing || request != null && requestDone);
        if (request == null || !requestDone) {
            Reading.set(ctx.channel(), request == null || upstream != null && upstream.channel().isWritable());
        }
    }

    @Override
    public void upstreamFailed(Throwable cause) {
        PooledUpstream up = upstream;
        upstream = null;
        if (up != null) {
            up.channel().close();
        }
        if (log.isDebugEnabled()) {
            log.debug("{} upstream {} failed mid-exchange: {}", connection.listener().name(),
                    up == null ? "?" : up.endpoint(), cause == null ? "closed" : cause.toString());
        }
        fail(HttpResponseStatus.BAD_GATEWAY, Outcome.UPSTREAM_FAILED,
                "upstream closed or sent a bad response" + (cause == null ? "" : ": " + cause.getMessage()));
    }

    /**
     * Ends the downstream connection with an error response, or by closing when a response is
     * already under way. {@code outcome} counts only if the connection has none yet.
     */
    private void fail(HttpResponseStatus status, Outcome outcome, String why) {
        if (closing) {
            return;
        }
        closing = true;
        if (outcome != null) {
            connection.outcome(outcome);
        }
        releaseQueued();
        Channel down = ctx.channel();
        if (responseStarted) {
            down.close();
            return;
        }
        log.debug("{} {} answered {}: {}", connection.listener().name(), down.remoteAddress(), status.code(), why);
        // The caller is in another cluster: the body names the service, never an exception or an internal address.
        ByteBuf body = Unpooled.copiedBuffer(publicReason(status) + "\n", StandardCharsets.UTF_8);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, body);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes())
                .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        down.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }

    /** What a remote caller may read: the status and the service it asked for (host:port from the SNI). */
    private String publicReason(HttpResponseStatus status) {
        String service = OutboundSni.parse(connection.serverName())
                .map(o -> o.host() + ":" + o.port()).orElse(String.valueOf(connection.serverName()));
        return status.code() == HttpResponseStatus.SERVICE_UNAVAILABLE.code()
                ? "meshgate: service " + service + " is unavailable (no healthy endpoint or connection limit reached)"
                : "meshgate: service " + service + " could not be reached";
    }

    private void releaseQueued() {
        waiting.forEach(ReferenceCountUtil::release);
        waiting.clear();
        pipelined.release();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        closing = true;
        if (acquiring != null) {
            acquiring.cancel(false);
        }
        if (upstream != null) {
            // Mid-exchange: the upstream is out of step (part of a request or response is unsent).
            upstream.exchange(null);
            upstream.channel().close();
            upstream = null;
        }
        releaseQueued();
        ctx.fireChannelInactive();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent || evt instanceof SslCloseCompletionEvent) {
            // The client sends nothing more: answer what is in flight, then close.
            if (request == null && pipelined.isEmpty()) {
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
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (log.isDebugEnabled()) {
            log.debug("{} {}: {}", connection.listener().name(), ctx.channel().remoteAddress(), cause.toString());
        }
        ctx.close();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseQueued();
    }
}
