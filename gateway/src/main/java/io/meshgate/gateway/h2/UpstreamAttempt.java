package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.upstream.UpstreamTarget;
import io.meshgate.routing.Endpoint;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Headers;

/**
 * Opens the upstream h2 stream of one downstream exchange (an h2 stream or an HTTP/1.1 request):
 * the listener's picker chose the candidates for this exchange alone ({@link UpstreamTarget}), a stream
 * that cannot be opened (no connection, or the connection refused it before anything was sent)
 * moves on to the next endpoint, up to {@code connectAttempts}. The pool counts the stream as a
 * connection to its endpoint for the picker while it is open (least-connections). An exchange that
 * is abandoned meanwhile gets nothing; a stream that opened for it anyway is reset. Often completes
 * before {@link #start} returns (a pooled connection with room). Confined to the downstream's
 * event loop.
 */
final class UpstreamAttempt implements H2UpstreamPool.StreamRequest {

    /** Where the attempt ends. */
    interface Exchange {
        /** The stream is open on {@code target}, its HEADERS written. */
        void opened(UpstreamStream up, Endpoint target);

        /** No endpoint took the stream; {@code cause} is the last failure. */
        void failed(Throwable cause);
    }

    private final Connection connection;
    private final Http2Termination h2;
    private final EventLoop loop;
    private final UpstreamTarget target;
    private final Http2Headers headers;
    private final boolean endStream;
    private final UpstreamStream.Receiver receiver;
    private final Exchange exchange;
    /** How many times this exchange's request was sent again after an endpoint left it unprocessed. */
    private final int sentAgain;
    /** The candidate this attempt starts at: 0, or the one after an endpoint that refused the stream. */
    private final int offset;
    private int tried;
    private boolean abandoned;

    private UpstreamAttempt(Connection connection, Http2Termination h2, EventLoop loop, UpstreamTarget target,
                            Http2Headers headers, boolean endStream, UpstreamStream.Receiver receiver, Exchange exchange,
                            int sentAgain, int offset) {
        this.sentAgain = sentAgain;
        this.offset = offset;
        this.connection = connection;
        this.h2 = h2;
        this.loop = loop;
        this.target = target;
        this.headers = headers;
        this.endStream = endStream;
        this.receiver = receiver;
        this.exchange = exchange;
    }

    /**
     * Starts opening a stream with request {@code headers} ({@code endStream}: a request without
     * body) to the candidates of {@code target} (picked once for this exchange) whose frames go to
     * {@code receiver}.
     */
    static UpstreamAttempt start(Connection connection, Http2Termination h2, EventLoop loop, UpstreamTarget target,
                                 Http2Headers headers, boolean endStream, UpstreamStream.Receiver receiver, Exchange exchange) {
        UpstreamAttempt attempt = new UpstreamAttempt(connection, h2, loop, target, headers, endStream, receiver, exchange, 0, 0);
        attempt.attempt();
        return attempt;
    }

    /** Whether the request may be sent again: it has been sent fewer than {@code balancing.connectAttempts} times. */
    boolean canSendAgain() {
        return sentAgain + 1 < connection.listener().upstreams().connectAttempts();
    }

    /**
     * Sends the request again after the stream {@code left} that this attempt opened was left
     * unprocessed by its endpoint ({@link UpstreamStream.Receiver#upstreamUnprocessed}). After a
     * GOAWAY the endpoint's connection is going away, so the pool puts the stream on another
     * connection, from the first candidate on; after the endpoint refused the stream
     * ({@link UpstreamStream#refused()}: busy, or at its stream limit), from the next candidate on
     * (the same one when it is the only one). Only when {@link #canSendAgain()}; the new attempt may
     * open at once, before this returns.
     */
    UpstreamAttempt again(UpstreamStream left) {
        h2.metrics().sentAgain(left.refused());
        int start = left.refused() ? (offset + tried + 1) % target.attempts() : 0;
        UpstreamAttempt next = new UpstreamAttempt(connection, h2, loop, target, headers, endStream, receiver, exchange,
                sentAgain + 1, start);
        next.attempt();
        return next;
    }

    /** The exchange no longer wants the stream. */
    void abandon() {
        abandoned = true;
    }

    private void attempt() {
        h2.pool(connection.listener()).open(loop, candidate(), connection.serverName(), this);
    }

    private Endpoint candidate() {
        return target.endpoint((offset + tried) % target.attempts());
    }

    @Override
    public Http2Headers headers() {
        return headers;
    }

    @Override
    public boolean endStream() {
        return endStream;
    }

    @Override
    public UpstreamStream.Receiver receiver() {
        return receiver;
    }

    @Override
    public boolean abandoned() {
        return abandoned;
    }

    @Override
    public void opened(UpstreamStream stream) {
        if (abandoned) {
            stream.close();
            return;
        }
        abandoned = true; // done: nothing more for this attempt
        exchange.opened(stream, candidate());
    }

    @Override
    public void failed(Throwable cause) {
        if (abandoned) {
            return;
        }
        if (++tried < target.attempts()) {
            attempt();
        } else {
            abandoned = true;
            exchange.failed(cause);
        }
    }
}
