package io.meshgate.gateway.h2;

import io.meshgate.gateway.h2.Http2Metrics.ResetCause;
import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.Reading;
import io.meshgate.gateway.upstream.Route;
import io.meshgate.gateway.upstream.UpstreamTarget;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.Resolution;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * Proxies one downstream h2 stream (stage 5 of terminate, h2). Its first HEADERS frame is routed on
 * its own: the SNI's route is resolved again and the listener's picker chooses an endpoint for this
 * stream alone, so one downstream connection spreads its requests over every endpoint. An
 * {@code http} service hands the stream to the HTTP/1.1 proxy through Netty's frame-to-object
 * codec; {@code http2}/{@code grpc} services get the frames relayed on a stream of a pooled h2
 * connection ({@link UpstreamStream}), headers and trailers as they are (minus connection-specific
 * fields, plus XFCC); the frame objects themselves cross (re-addressed), not copies.
 *
 * <p>Backpressure is per stream in both directions: a side that cannot write stops reading the
 * other side's stream, whose unconsumed DATA keeps its flow-control window closed (Netty returns
 * window only for DATA the stream channel has read, or the upstream stream has consumed), so a
 * stalled stream holds at most one window and never delays its neighbours. A stream that cannot be served is answered by the
 * gateway (gRPC: HTTP 200 with {@code grpc-status}); resets cross in both directions;
 * {@code grpc-timeout} cancels the upstream stream when it expires.
 */
final class StreamProxy extends ChannelInboundHandlerAdapter implements UpstreamStream.Receiver {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StreamProxy.class);

    private final Connection connection;
    private final Http2Termination h2;
    private final String forwardedClientCert;
    /** Request DATA and trailers read before the upstream stream is open. */
    private final ArrayDeque<Http2StreamFrame> pending = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private boolean started;
    private boolean grpc;
    private boolean requestDone;
    private boolean responseStarted;
    private boolean responseComplete;
    private boolean finished;
    private UpstreamAttempt attempt;
    private UpstreamStream upstream;
    private ScheduledFuture<?> deadline;

    StreamProxy(Connection connection, Http2Termination h2, String forwardedClientCert) {
        this.connection = connection;
        this.h2 = h2;
        this.forwardedClientCert = forwardedClientCert;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (finished) {
            ReferenceCountUtil.release(msg); // the tail of a request already answered
        } else if (!started && msg instanceof Http2HeadersFrame headers) {
            started = true;
            start(headers);
        } else if (msg instanceof Http2HeadersFrame || msg instanceof Http2DataFrame) {
            toUpstream((Http2StreamFrame) msg);
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    private void start(Http2HeadersFrame frame) {
        ListenerContext listener = connection.listener();
        Resolution route = listener.router().resolve(connection.serverName());
        if (!(route instanceof Resolution.Routed routed)) {
            grpc = StreamHeaders.isGrpc(frame.headers());
            requestDone = frame.isEndStream();
            answer(503, GrpcAnswers.UNAVAILABLE, "no healthy endpoints for " + connection.serverName());
            return;
        }
        if (routed.endpoints().protocol() == AppProtocol.HTTP) {
            Http1Bridge.install(ctx, connection, h2.http1().handler(connection, forwardedClientCert));
            ctx.fireChannelRead(frame);
            ctx.pipeline().remove(this);
            return;
        }
        Http2Headers headers = frame.headers();
        grpc = StreamHeaders.isGrpc(headers);
        requestDone = frame.isEndStream();
        if (grpc) {
            long timeout = GrpcAnswers.timeoutNanos(headers.get(GrpcAnswers.GRPC_TIMEOUT));
            if (timeout >= 0) {
                deadline = ctx.executor().schedule(this::deadlineExceeded, timeout, TimeUnit.NANOSECONDS);
            }
        }
        Reading.set(ctx.channel(), false); // until the upstream stream can take the body
        attempt = UpstreamAttempt.start(connection, h2, ctx.channel().eventLoop(), listener.upstreams().pick(Route.of(routed)),
                StreamHeaders.toUpstream(headers, forwardedClientCert), requestDone, this,
                new UpstreamAttempt.Exchange() {
                    @Override
                    public void opened(UpstreamStream up, Endpoint target) {
                        if (finished) {
                            up.close();
                        } else {
                            upstreamReady(up);
                        }
                    }

                    @Override
                    public void failed(Throwable cause) {
                        // The caller is in another cluster: the answer names the service, never the cause or an address.
                        log.debug("{} {}: no endpoint took the stream: {}", connection.listener().name(),
                                connection.serverName(), cause.toString());
                        answer(502, GrpcAnswers.UNAVAILABLE, "upstream unavailable for " + connection.serverName());
                    }
                });
    }

    private void upstreamReady(UpstreamStream up) {
        upstream = up;
        connection.outcome(Outcome.ROUTED);
        Http2StreamFrame frame;
        while ((frame = pending.poll()) != null) {
            up.write(frame);
        }
        up.flush();
        up.reading(ctx.channel().isWritable());
        Reading.set(ctx.channel(), requestDone || up.isWritable());
    }

    private void toUpstream(Http2StreamFrame frame) {
        Http2StreamFrame relayed;
        if (frame instanceof Http2DataFrame data) {
            requestDone |= data.isEndStream();
            relayed = RelayedFrames.data(data);
        } else {
            Http2HeadersFrame trailers = (Http2HeadersFrame) frame;
            requestDone |= trailers.isEndStream();
            relayed = RelayedFrames.headers(trailers, StreamHeaders.toDownstream(trailers.headers()));
        }
        if (upstream == null) {
            pending.add(relayed);
            return;
        }
        upstream.write(relayed);
        if (!upstream.isWritable()) {
            Reading.set(ctx.channel(), false);
        }
    }

    /** Netty delivers RST_STREAM as a user event: it is not flow-controlled and must not wait for a read. */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame reset) {
            if (!finished) {
                downstreamReset(reset);
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
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

    @Override
    public void fromUpstream(UpstreamStream from, Http2StreamFrame msg) {
        if (from != upstream || finished) {
            ReferenceCountUtil.release(msg);
            return;
        }
        Channel down = ctx.channel();
        if (msg instanceof Http2HeadersFrame headers) {
            CharSequence status = headers.headers().status();
            if (status == null || status.length() == 0 || status.charAt(0) != '1') {
                responseStarted = true; // a final response or trailers; 1xx answers are passed on as they come
            }
            boolean end = headers.isEndStream();
            down.write(RelayedFrames.headers(headers, StreamHeaders.toDownstream(headers.headers())).stream(null), down.voidPromise());
            if (end) {
                responseDone();
            }
        } else if (msg instanceof Http2DataFrame data) {
            boolean end = data.isEndStream();
            down.write(RelayedFrames.data(data).stream(null), down.voidPromise());
            if (end) {
                responseDone();
            } else if (!down.isWritable()) {
                from.reading(false);
            }
        } else {
            ReferenceCountUtil.release(msg);
        }
    }

    /** The endpoint reset the stream. */
    @Override
    public void upstreamReset(UpstreamStream from, long errorCode) {
        if (from == upstream && !finished) {
            upstreamFailed("upstream reset the stream (" + Http2Error.valueOf(errorCode) + ")", errorCode);
        }
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

    /** The upstream stream closed: fine after a complete response, a failure before. */
    @Override
    public void upstreamClosed(UpstreamStream from) {
        if (from == upstream && !finished && !responseComplete) {
            upstreamFailed("upstream connection closed mid-stream", Http2Error.CANCEL.code());
        }
    }

    private void responseDone() {
        responseComplete = true;
        ctx.channel().flush();
        cancelDeadline();
        if (requestDone) {
            finished = true; // both directions ended: the stream channels close on their own
        }
    }

    private void upstreamFailed(String why, long errorCode) {
        h2.metrics().reset(ResetCause.UPSTREAM);
        UpstreamStream up = upstream;
        upstream = null;
        if (up != null) {
            up.close();
        }
        if (responseStarted) {
            resetDownstream(errorCode, why);
        } else {
            answer(502, GrpcAnswers.UNAVAILABLE, why + " (" + connection.serverName() + ")");
        }
    }

    private void deadlineExceeded() {
        if (finished) {
            return;
        }
        h2.metrics().reset(ResetCause.DEADLINE);
        cancelUpstream();
        if (responseStarted) {
            resetDownstream(Http2Error.CANCEL.code(), "grpc-timeout expired");
        } else {
            answer(504, GrpcAnswers.DEADLINE_EXCEEDED, "deadline exceeded at the gateway");
        }
    }

    private void downstreamReset(Http2ResetFrame reset) {
        h2.metrics().reset(ResetCause.DOWNSTREAM);
        finished = true;
        cancelDeadline();
        releasePending();
        resetUpstream(reset.errorCode());
        drainDownstream();
    }

    /**
     * Reads whatever the caller's stream still has queued (released unread, as the stream is over):
     * Netty closes a stream channel whose stream ended only once its queue is empty, so a paused
     * one would otherwise keep its frames.
     */
    private void drainDownstream() {
        Reading.set(ctx.channel(), true);
    }

    /** Resets the upstream stream with CANCEL; nothing more goes to it. */
    private void cancelUpstream() {
        resetUpstream(Http2Error.CANCEL.code());
    }

    /** Abandons the upstream stream: one still opening is dropped, an open one reset with {@code errorCode} and closed. */
    private void resetUpstream(long errorCode) {
        if (attempt != null) {
            attempt.abandon();
        }
        UpstreamStream up = upstream;
        upstream = null;
        if (up != null) {
            up.reset(errorCode);
        }
    }

    private void resetDownstream(long errorCode, String why) {
        finished = true;
        cancelDeadline();
        releasePending();
        log.debug("{} {} stream reset: {}", connection.listener().name(), ctx.channel().remoteAddress(), why);
        ctx.channel().writeAndFlush(new DefaultHttp2ResetFrame(errorCode));
        drainDownstream();
    }

    /**
     * The gateway answers the stream itself: gRPC calls get HTTP 200 with {@code grpc-status}
     * (trailers-only), others {@code status} with a plain-text reason naming the service.
     */
    private void answer(int status, int grpcStatus, String why) {
        if (finished) {
            return;
        }
        finished = true;
        cancelDeadline();
        releasePending();
        cancelUpstream();
        Channel down = ctx.channel();
        log.debug("{} {} answered {}: {}", connection.listener().name(), down.remoteAddress(),
                grpc ? "grpc-status " + grpcStatus : status, why);
        if (grpc) {
            down.write(new DefaultHttp2HeadersFrame(GrpcAnswers.grpc(grpcStatus, why), true));
        } else {
            var body = GrpcAnswers.plainBody(down.alloc(), why);
            down.write(new DefaultHttp2HeadersFrame(GrpcAnswers.plain(status, body.readableBytes()), false));
            down.write(new DefaultHttp2DataFrame(body, true));
        }
        if (!requestDone) {
            // RFC 9113 8.1: the response is complete; the client may stop sending its request.
            down.write(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR));
        }
        down.flush();
        drainDownstream();
    }

    private void cancelDeadline() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }

    private void releasePending() {
        Http2StreamFrame f;
        while ((f = pending.poll()) != null) {
            ReferenceCountUtil.release(f);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        // The downstream stream is over (completed, reset, or its connection closed).
        cancelDeadline();
        releasePending();
        if (attempt != null) {
            attempt.abandon();
        }
        UpstreamStream up = upstream;
        upstream = null;
        finished = true;
        if (up != null) {
            up.close(); // a no-op for a completed stream; RST_STREAM(CANCEL) for one still open
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (log.isDebugEnabled()) {
            log.debug("{} {} stream failed: {}", connection.listener().name(), ctx.channel().remoteAddress(), cause.toString());
        }
        ctx.close();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releasePending();
    }
}
