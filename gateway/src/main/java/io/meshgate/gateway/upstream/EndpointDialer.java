package io.meshgate.gateway.upstream;

import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.EndpointSet;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.MessageSizeEstimator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Opens a TCP connection to one endpoint of a route on a given event loop: the endpoint picker
 * chooses where to start, a failed attempt moves on to the next endpoint up to the configured
 * attempts, and every attempt is timed and counted. Shared by the passthrough connector, the
 * terminate listener's TCP relay and its HTTP upstream pool.
 */
public final class EndpointDialer {

    /** Larger than Netty's default so bulk streams toggle autoRead less often; still bounded per connection. */
    public static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(64 * 1024, 256 * 1024);

    /** A connected upstream and the endpoint it reached. */
    public record Dialed(Channel channel, Endpoint endpoint) {}

    private final Transport transport;
    private final EndpointPicker picker;
    private final ListenerMetrics metrics;
    private final int connectAttempts;
    private final int connectTimeoutMillis;

    public EndpointDialer(Transport transport, EndpointPicker picker, ListenerMetrics metrics, int connectAttempts,
                          Duration connectTimeout) {
        this.transport = transport;
        this.picker = picker;
        this.metrics = metrics;
        this.connectAttempts = connectAttempts;
        this.connectTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis());
    }

    /**
     * Connects on {@code loop}; the channel starts with autoRead off, {@code meter} as its size
     * estimator and {@code handler} in its pipeline. Cancelling the returned future abandons the
     * attempt in flight; a connection made after all is closed.
     */
    public Future<Dialed> dial(EventLoop loop, EndpointSet set, MessageSizeEstimator meter, ChannelHandler handler) {
        int first = picker.first(set);
        List<Endpoint> order = new ArrayList<>(set.size());
        for (int i = 0; i < set.size(); i++) {
            order.add(set.get((first + i) % set.size()));
        }
        return dial(loop, order, Math.min(connectAttempts, set.size()), meter, handler);
    }

    /** As {@link #dial(EventLoop, EndpointSet, MessageSizeEstimator, ChannelHandler)}, trying {@code order} as given. */
    public Future<Dialed> dial(EventLoop loop, List<Endpoint> order, int attempts, MessageSizeEstimator meter,
                               ChannelHandler handler) {
        Promise<Dialed> result = loop.newPromise();
        int limit = Math.min(attempts, order.size());
        loop.execute(() -> attempt(loop, order, 0, limit, meter, handler, result));
        return result;
    }

    // Every attempt runs as a task of the event loop, i.e. after the loop has handled its whole
    // epoll batch, never from inside an I/O event. Dialing inside a batch could give the new socket
    // the descriptor number of a channel closed earlier in that batch; the batch's stale event for
    // that number was then dispatched to the new, not yet connected channel (Bootstrap.connect
    // defers the connect to a task): recv failed with ENOTCONN and the stale RDHUP shut the new
    // socket's input, so the endpoint's answer was never read (StaleEpollEventTest).

    private void attempt(EventLoop loop, List<Endpoint> order, int tried, int attempts, MessageSizeEstimator meter,
                         ChannelHandler handler, Promise<Dialed> result) {
        if (result.isDone()) { // abandoned before this attempt ran
            return;
        }
        Endpoint endpoint = order.get(tried);
        long start = System.nanoTime();
        ChannelFuture connect = new Bootstrap()
                .group(loop)
                .channelFactory(transport.upstreamChannels(endpoint.socketAddress()))
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                // TCP_NODELAY is every Netty transport's default: setting it again is a syscall more
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .option(ChannelOption.MESSAGE_SIZE_ESTIMATOR, meter)
                .handler(handler)
                .connect(endpoint.socketAddress());
        result.addListener(r -> {
            if (r.isCancelled()) {
                connect.cancel(false);
            }
        });
        connect.addListener((ChannelFuture f) -> {
            if (result.isDone()) { // abandoned by the caller meanwhile
                f.channel().close();
                return;
            }
            if (f.isSuccess()) {
                metrics.upstreamConnected(System.nanoTime() - start);
                result.setSuccess(new Dialed(f.channel(), endpoint));
            } else {
                metrics.upstreamConnectFailed();
                if (tried + 1 < attempts) {
                    loop.execute(() -> attempt(loop, order, tried + 1, attempts, meter, handler, result));
                } else {
                    result.tryFailure(f.cause());
                }
            }
        });
    }
}
