package io.meshgate.gateway.h2;

import io.meshgate.gateway.h2.Http2Metrics.ResetCause;
import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.upstream.Route;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.Resolution;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * Proxies one downstream h2 stream of an {@code http2}/{@code grpc} service (stage 5 of terminate,
 * h2): the exchange {@link StreamRelay} hands the stream's frames to, by stream id. Its first
 * HEADERS is routed on its own: the SNI's route is resolved again and the listener's picker chooses
 * an endpoint for this stream alone, so one downstream connection spreads its requests over every
 * endpoint. The frames are relayed on a stream of a pooled h2 connection ({@link UpstreamStream}),
 * headers and trailers as they are (minus connection-specific fields, plus XFCC); the frame objects
 * themselves cross (re-addressed), not copies. A stream that cannot be served is answered by the
 * gateway (gRPC: HTTP 200 with {@code grpc-status}); resets cross in both directions;
 * {@code grpc-timeout} cancels the upstream stream when it expires. A service that became
 * {@code http} meanwhile is not served here: the stream is refused (RST_STREAM REFUSED_STREAM, which
 * clients retry) and the connection drained, so the caller reconnects to the HTTP/1.1 bridge.
 *
 * <p>Backpressure is per stream in both directions, on the h2 windows: the caller's DATA is
 * consumed (its window returned) only while the upstream stream can take more, and owed while it
 * cannot; the endpoint's DATA only while the caller's stream can take more ({@link
 * UpstreamStream#reading}). A stalled stream therefore holds at most one window on each side and
 * never delays its neighbours. Counts itself once in {@code meshgate_http_requests_total{protocol="h2"}}
 * by the final status it wrote, or as {@code reset}. Confined to the connection's event loop.
 */
final class DownstreamStream implements UpstreamStream.Receiver, UpstreamAttempt.Exchange {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(DownstreamStream.class);

    private final StreamRelay relay;
    private final Http2FrameStream stream;
    private final Http2Stream codecStream;
    /** Request DATA and trailers read before the upstream stream is open; made only when needed. */
    private ArrayDeque<Http2StreamFrame> pending;
    /** Request DATA bytes read from the caller whose window is not returned yet (the upstream stream cannot take more). */
    private int owed;
    private boolean started;
    private boolean grpc;
    private boolean requestDone;
    private boolean responseStarted;
    private boolean responseComplete;
    private boolean finished;
    private boolean counted;
    private UpstreamAttempt attempt;
    private UpstreamStream upstream;
    private ScheduledFuture<?> deadline;
    /** Queued by the relay for {@link #downstreamReadComplete} at the end of the connection's read. */
    boolean readPending;

    DownstreamStream(StreamRelay relay, Http2FrameStream stream, Http2Stream codecStream) {
        this.relay = relay;
        this.stream = stream;
        this.codecStream = codecStream;
    }

    /** A HEADERS (request or trailers) or DATA frame the caller sent on this stream. */
    void read(Http2StreamFrame frame) {
        if (finished) {
            // The tail of a request already answered: its window goes back at once.
            if (frame instanceof Http2DataFrame data) {
                relay.consume(codecStream, data.initialFlowControlledBytes());
            }
            ReferenceCountUtil.release(frame);
        } else if (!started && frame instanceof Http2HeadersFrame headers) {
            started = true;
            start(headers);
        } else {
            toUpstream(frame);
        }
    }

    private void start(Http2HeadersFrame frame) {
        Connection connection = relay.connection();
        ListenerContext listener = connection.listener();
        Http2Headers headers = frame.headers();
        grpc = StreamHeaders.isGrpc(headers);
        requestDone = frame.isEndStream();
        Resolution route = relay.route();
        if (!(route instanceof Resolution.Routed routed)) {
            answer(503, GrpcAnswers.UNAVAILABLE, "no healthy endpoints for " + connection.serverName());
            return;
        }
        if (routed.endpoints().protocol() == AppProtocol.HTTP) {
            refuse();
            return;
        }
        if (grpc) {
            long timeout = GrpcAnswers.timeoutNanos(headers.get(GrpcAnswers.GRPC_TIMEOUT));
            if (timeout >= 0) {
                deadline = relay.executor().schedule(this::deadlineExceeded, timeout, TimeUnit.NANOSECONDS);
            }
        }
        attempt = UpstreamAttempt.start(connection, relay.h2(), relay.executor(), listener.upstreams().pick(Route.of(routed)),
                StreamHeaders.toUpstream(headers, relay.forwardedClientCert()), requestDone, this, this);
    }

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
        Connection connection = relay.connection();
        log.debug("{} {}: no endpoint took the stream: {}", connection.listener().name(), connection.serverName(),
                cause.toString());
        answer(502, GrpcAnswers.UNAVAILABLE, "upstream unavailable for " + connection.serverName());
    }

    private void upstreamReady(UpstreamStream up) {
        upstream = up;
        relay.connection().outcome(Outcome.ROUTED);
        if (pending != null) {
            Http2StreamFrame frame;
            while ((frame = pending.poll()) != null) {
                up.write(frame);
            }
        }
        if (!relay.inRead()) {
            up.flush(); // else at the end of the caller's read, with the other streams it fed
        }
        up.reading(relay.isWritable(codecStream));
        if (up.isWritable()) {
            returnOwed();
        }
    }

    private void toUpstream(Http2StreamFrame frame) {
        Http2StreamFrame relayed;
        int bytes = 0;
        if (frame instanceof Http2DataFrame data) {
            requestDone |= data.isEndStream();
            bytes = data.initialFlowControlledBytes();
            relayed = RelayedFrames.data(data);
        } else if (frame instanceof Http2HeadersFrame trailers) {
            requestDone |= trailers.isEndStream();
            relayed = RelayedFrames.headers(trailers, StreamHeaders.toDownstream(trailers.headers()));
        } else {
            ReferenceCountUtil.release(frame);
            return;
        }
        if (upstream == null) {
            if (pending == null) {
                pending = new ArrayDeque<>(4);
            }
            pending.add(relayed);
            owed += bytes;
            return;
        }
        upstream.write(relayed);
        if (upstream.isWritable()) {
            relay.consume(codecStream, bytes);
        } else {
            owed += bytes; // returned once the upstream stream takes more
        }
    }

    /** The caller's window for what the upstream stream has taken. */
    private void returnOwed() {
        if (owed > 0) {
            int bytes = owed;
            owed = 0;
            relay.consume(codecStream, bytes);
        }
    }

    /** The connection's read in which this stream got frames ended: what went upstream is flushed together. */
    void downstreamReadComplete() {
        if (upstream != null) {
            upstream.flush();
        }
    }

    /** The caller's window or connection changed writability: the endpoint's DATA is read while it can go on. */
    void downstreamWritabilityChanged() {
        if (upstream != null) {
            upstream.reading(relay.isWritable(codecStream));
        }
    }

    @Override
    public void fromUpstream(UpstreamStream from, Http2StreamFrame msg) {
        if (from != upstream || finished) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof Http2HeadersFrame headers) {
            CharSequence status = headers.headers().status();
            if (status == null || status.length() == 0 || status.charAt(0) != '1') {
                responseStarted = true; // a final response or trailers; 1xx answers are passed on as they come
            }
            boolean end = headers.isEndStream();
            send(RelayedFrames.headers(headers, StreamHeaders.toDownstream(headers.headers())));
            if (end) {
                responseDone();
            }
        } else if (msg instanceof Http2DataFrame data) {
            boolean end = data.isEndStream();
            send(RelayedFrames.data(data));
            if (end) {
                responseDone();
            } else if (!relay.isWritable(codecStream)) {
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

    /** The endpoint's GOAWAY left the stream unprocessed, and only its HEADERS went out: sent again elsewhere. */
    @Override
    public void upstreamUnprocessed(UpstreamStream from) {
        if (from != upstream || finished) {
            return;
        }
        if (!attempt.canSendAgain()) {
            upstreamReset(from, Http2Error.REFUSED_STREAM.code());
            return;
        }
        upstream = null;
        attempt = attempt.again(from); // may open at once, and call opened() before it returns
    }

    @Override
    public void upstreamReadComplete() {
        relay.flush();
    }

    @Override
    public void upstreamWritabilityChanged(UpstreamStream from) {
        if (from == upstream && from.isWritable()) {
            returnOwed();
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
        relay.flush();
        cancelDeadline();
        if (requestDone) {
            finished = true; // both directions ended: the codec closes the stream
        }
    }

    private void upstreamFailed(String why, long errorCode) {
        relay.h2().metrics().reset(ResetCause.UPSTREAM);
        UpstreamStream up = upstream;
        upstream = null;
        if (up != null) {
            up.close();
        }
        if (responseStarted) {
            resetDownstream(errorCode, why);
        } else {
            answer(502, GrpcAnswers.UNAVAILABLE, why + " (" + relay.connection().serverName() + ")");
        }
    }

    private void deadlineExceeded() {
        deadline = null;
        if (finished) {
            return;
        }
        relay.h2().metrics().reset(ResetCause.DEADLINE);
        cancelUpstream();
        if (responseStarted) {
            resetDownstream(Http2Error.CANCEL.code(), "grpc-timeout expired");
        } else {
            answer(504, GrpcAnswers.DEADLINE_EXCEEDED, "deadline exceeded at the gateway");
        }
    }

    /** The caller reset the stream: the upstream stream is reset with its error code. */
    void downstreamReset(long errorCode) {
        if (finished) {
            return;
        }
        relay.h2().metrics().reset(ResetCause.DOWNSTREAM);
        finished = true;
        cancelDeadline();
        releasePending();
        resetUpstream(errorCode);
    }

    /** The caller broke the protocol on this stream (Netty found it): it is reset with {@code error}, the upstream cancelled. */
    void failed(Http2Error error, Throwable cause) {
        if (log.isDebugEnabled()) {
            log.debug("{} {} stream failed: {}", relay.connection().listener().name(), relay.remoteAddress(), cause.toString());
        }
        cancelUpstream();
        if (codecStream.state() != Http2Stream.State.CLOSED) {
            resetDownstream(error.code(), "protocol error"); // the frame codec leaves resetting it to the application
        }
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
        log.debug("{} {} stream reset: {}", relay.connection().listener().name(), relay.remoteAddress(), why);
        send(new DefaultHttp2ResetFrame(errorCode));
        relay.flush();
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
        log.debug("{} {} answered {}: {}", relay.connection().listener().name(), relay.remoteAddress(),
                grpc ? "grpc-status " + grpcStatus : status, why);
        GrpcAnswers.write(this::send, relay::flush, relay.alloc(), grpc, status, grpcStatus, why, requestDone);
    }

    /**
     * The service speaks {@code http} now, which this connection's stage does not serve: the stream
     * is refused before anything was done with it (RFC 9113 8.7: safe to retry) and the connection
     * drained, so the caller retries on a new connection that gets the HTTP/1.1 bridge.
     */
    private void refuse() {
        finished = true;
        send(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM));
        relay.flush();
        relay.serviceChanged("the service now speaks http, streams refused");
    }

    /** Writes {@code frame} on the caller's stream; the first final status or reset counts the stream. */
    private void send(Http2StreamFrame frame) {
        if (!counted) {
            counted = StatusMeter.count(relay.h2().metrics(), frame);
        }
        relay.write(frame.stream(stream));
    }

    /** The stream closed (both ends done, reset, or its connection gone): nothing of it is left anywhere. */
    void closed() {
        finished = true;
        owed = 0; // a closed stream gives its unconsumed bytes back to the connection window by itself
        cancelDeadline();
        releasePending();
        cancelUpstream(); // a no-op for a completed upstream stream; RST_STREAM(CANCEL) for one still open
        if (!counted) {
            counted = true;
            relay.h2().metrics().answered(0); // closed (client reset, connection gone) before any answer
        }
    }

    private void cancelDeadline() {
        if (deadline != null) {
            deadline.cancel(false);
            deadline = null;
        }
    }

    private void releasePending() {
        if (pending != null) {
            Http2StreamFrame f;
            while ((f = pending.poll()) != null) {
                ReferenceCountUtil.release(f);
            }
        }
    }

    @Override
    public String toString() {
        return "downstream stream " + stream.id();
    }
}
