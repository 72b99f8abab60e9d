package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.routing.Endpoint;
import io.meshgate.gateway.upstream.UpstreamTarget;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Future;

/**
 * Opens the upstream h2 stream of one downstream exchange (an h2 stream or an HTTP/1.1 request):
 * the listener's picker chose the candidates for this exchange alone ({@link UpstreamTarget}), a stream
 * that cannot be opened moves on to the next endpoint, up to {@code connectAttempts}. The picker
 * counts the stream as a connection to its endpoint while it is open (least-connections). An
 * exchange that is abandoned meanwhile gets nothing; a stream that opened for it anyway is closed.
 * Confined to the downstream's event loop.
 */
final class UpstreamAttempt {

    /** Where the attempt ends. */
    interface Exchange {
        /** The stream is open on {@code target}. */
        void opened(Http2StreamChannel up, Endpoint target);

        /** No endpoint took the stream; {@code cause} is the last failure. */
        void failed(Throwable cause);
    }

    private final Connection connection;
    private final Http2Termination h2;
    private final EventLoop loop;
    private final UpstreamStream.Receiver receiver;
    private final Exchange exchange;
    private final UpstreamTarget target;
    private Future<Http2StreamChannel> opening;
    private boolean abandoned;

    private UpstreamAttempt(Connection connection, Http2Termination h2, EventLoop loop, UpstreamTarget target,
                            UpstreamStream.Receiver receiver, Exchange exchange) {
        this.connection = connection;
        this.h2 = h2;
        this.loop = loop;
        this.receiver = receiver;
        this.exchange = exchange;
        this.target = target;
    }

    /** Starts opening a stream to the candidates of {@code target} (picked once for this exchange) whose frames go to {@code receiver}. */
    static UpstreamAttempt start(Connection connection, Http2Termination h2, EventLoop loop, UpstreamTarget target,
                                 UpstreamStream.Receiver receiver, Exchange exchange) {
        UpstreamAttempt attempt = new UpstreamAttempt(connection, h2, loop, target, receiver, exchange);
        attempt.attempt(0);
        return attempt;
    }

    /** The exchange no longer wants the stream. */
    void abandon() {
        abandoned = true;
        if (opening != null) {
            opening.cancel(false);
            opening = null;
        }
    }

    private void attempt(int tried) {
        Endpoint endpoint = target.endpoint(tried);
        Future<Http2StreamChannel> f = h2.pool(connection.listener()).open(loop, endpoint, connection.serverName(),
                new UpstreamStream(receiver));
        opening = f;
        f.addListener((Future<Http2StreamChannel> opened) -> {
            if (opening != opened || abandoned) {
                if (opened.isSuccess()) {
                    opened.getNow().close();
                }
                return;
            }
            opening = null;
            if (opened.isCancelled()) {
                return;
            }
            if (!opened.isSuccess()) {
                if (tried + 1 < target.attempts()) {
                    attempt(tried + 1);
                } else {
                    exchange.failed(opened.cause());
                }
                return;
            }
            Http2StreamChannel up = opened.getNow();
            connection.listener().upstreams().picker().connected(endpoint);
            up.closeFuture().addListener(c -> connection.listener().upstreams().picker().disconnected(endpoint));
            exchange.opened(up, endpoint);
        });
    }
}
