package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.EndpointSet;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Future;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens the upstream h2 stream of one downstream exchange (an h2 stream or an HTTP/1.1 request):
 * the listener's picker chooses the first endpoint of the route for this exchange alone, a stream
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
    private final List<Endpoint> order;
    private final int attempts;
    private Future<Http2StreamChannel> opening;
    private boolean abandoned;

    private UpstreamAttempt(Connection connection, Http2Termination h2, EventLoop loop, EndpointSet set,
                            UpstreamStream.Receiver receiver, Exchange exchange) {
        this.connection = connection;
        this.h2 = h2;
        this.loop = loop;
        this.receiver = receiver;
        this.exchange = exchange;
        ListenerContext listener = connection.listener();
        int first = listener.picker().first(set);
        this.order = new ArrayList<>(set.size());
        for (int i = 0; i < set.size(); i++) {
            order.add(set.get((first + i) % set.size()));
        }
        this.attempts = Math.min(listener.connectAttempts(), order.size());
    }

    /** Starts opening a stream to an endpoint of {@code set} whose frames go to {@code receiver}. */
    static UpstreamAttempt start(Connection connection, Http2Termination h2, EventLoop loop, EndpointSet set,
                                 UpstreamStream.Receiver receiver, Exchange exchange) {
        UpstreamAttempt attempt = new UpstreamAttempt(connection, h2, loop, set, receiver, exchange);
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
        Endpoint target = order.get(tried);
        Future<Http2StreamChannel> f = h2.pool(connection.listener()).open(loop, target, connection.serverName(),
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
                if (tried + 1 < attempts) {
                    attempt(tried + 1);
                } else {
                    exchange.failed(opened.cause());
                }
                return;
            }
            Http2StreamChannel up = opened.getNow();
            connection.listener().picker().connected(target);
            up.closeFuture().addListener(c -> connection.listener().picker().disconnected(target));
            exchange.opened(up, target);
        });
    }
}
