package io.meshgate.gateway.upstream;

import io.meshgate.gateway.transport.LoopDeadlines;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.routing.Endpoint;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.MessageSizeEstimator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Opens a TCP connection to one candidate of an {@link UpstreamTarget} on a given event loop: it
 * starts where the picker chose, a failed attempt moves on to the next candidate up to the
 * target's attempts, and every attempt is timed and counted. Shared by the passthrough connector, the
 * terminate listener's TCP relay and its HTTP upstream pool.
 */
public final class EndpointDialer {

    /** Larger than Netty's default so bulk streams toggle autoRead less often; still bounded per connection. */
    public static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(64 * 1024, 256 * 1024);

    /** A connected upstream, the endpoint it reached and that endpoint's cluster. */
    public record Dialed(Channel channel, Endpoint endpoint, String cluster) {}

    private final Transport transport;
    private final EndpointPicker picker;
    private final ListenerMetrics metrics;
    private final int connectAttempts;
    /** {@code timeouts.connect}; zero: none. Timed by the loop's {@link LoopDeadlines}, not Netty's per-channel scheduled task. */
    private final long connectTimeoutNanos;

    public EndpointDialer(Transport transport, EndpointPicker picker, ListenerMetrics metrics, int connectAttempts,
                          Duration connectTimeout) {
        this.transport = transport;
        this.picker = picker;
        this.metrics = metrics;
        this.connectAttempts = connectAttempts;
        this.connectTimeoutNanos = connectTimeout.toNanos();
    }

    /** Chooses where each connection (or HTTP request, or h2 stream) starts; counts active upstream connections. */
    public EndpointPicker picker() {
        return picker;
    }

    /** Runs the picker once: the route's candidates in the order this connection, request or stream tries them. */
    public UpstreamTarget pick(Route route) {
        return route.pick(picker, connectAttempts);
    }

    /** {@code balancing.connectAttempts}: endpoints tried per connection at most. */
    public int connectAttempts() {
        return connectAttempts;
    }

    /** {@code timeouts.connect} in nanoseconds, per attempt; zero: none. */
    public long connectTimeoutNanos() {
        return connectTimeoutNanos;
    }

    /**
     * Connects on {@code loop} to the target's candidates in its order, up to its attempts; the
     * channel starts with autoRead off, {@code meter} as its size estimator and {@code handler} in
     * its pipeline. Cancelling the returned future abandons the attempt in flight; a connection
     * made after all is closed.
     */
    public Future<Dialed> dial(EventLoop loop, UpstreamTarget target, MessageSizeEstimator meter, ChannelHandler handler) {
        Promise<Dialed> result = loop.newPromise();
        loop.execute(() -> attempt(loop, target, 0, meter, handler, result));
        return result;
    }

    /** As {@link #dial(EventLoop, UpstreamTarget, MessageSizeEstimator, ChannelHandler)}, trying {@code order} as given. */
    public Future<Dialed> dial(EventLoop loop, List<Endpoint> order, int attempts, MessageSizeEstimator meter,
                               ChannelHandler handler) {
        return dial(loop, UpstreamTarget.of(order, attempts), meter, handler);
    }

    // Every attempt runs as a task of the event loop, i.e. after the loop has handled its whole
    // epoll batch, never from inside an I/O event. Dialing inside a batch could give the new socket
    // the descriptor number of a channel closed earlier in that batch; the batch's stale event for
    // that number was then dispatched to the new, not yet connected channel (Bootstrap.connect
    // defers the connect to a task): recv failed with ENOTCONN and the stale RDHUP shut the new
    // socket's input, so the endpoint's answer was never read (StaleEpollEventTest).

    private void attempt(EventLoop loop, UpstreamTarget target, int tried, MessageSizeEstimator meter,
                         ChannelHandler handler, Promise<Dialed> result) {
        if (result.isDone()) { // abandoned before this attempt ran
            return;
        }
        Endpoint endpoint = target.endpoint(tried);
        long start = System.nanoTime();
        ChannelFuture connect;
        try {
            connect = connect(loop, endpoint.socketAddress(), meter, handler);
        } catch (RuntimeException e) { // no socket (descriptor limit) or an option refused: as a failed connect
            failed(loop, target, tried, meter, handler, result, e);
            return;
        }
        LoopDeadlines.Timeout timeout = connectTimeoutNanos > 0 && !connect.isDone()
                ? LoopDeadlines.start(loop, connectTimeoutNanos, () -> timedOut(connect, endpoint)) : null;
        result.addListener(r -> {
            if (r.isCancelled()) {
                connect.cancel(false);
            }
        });
        connect.addListener((ChannelFuture f) -> {
            if (timeout != null) {
                timeout.cancel();
            }
            if (result.isDone()) { // abandoned by the caller meanwhile
                f.channel().close();
                return;
            }
            if (f.isSuccess()) {
                metrics.upstreamConnected(System.nanoTime() - start);
                result.setSuccess(new Dialed(f.channel(), endpoint, target.cluster(tried)));
            } else {
                failed(loop, target, tried, meter, handler, result, f.cause());
            }
        });
    }

    /** {@code timeouts.connect} passed before the connect completed: fails it as Netty's own timeout would, and closes the socket. */
    private void timedOut(ChannelFuture connect, Endpoint endpoint) {
        if (connect instanceof ChannelPromise promise && promise.tryFailure(new ConnectTimeoutException(
                "connection timed out after " + TimeUnit.NANOSECONDS.toMillis(connectTimeoutNanos) + " ms: " + endpoint.socketAddress()))) {
            connect.channel().close();
        }
    }

    private void failed(EventLoop loop, UpstreamTarget target, int tried, MessageSizeEstimator meter,
                        ChannelHandler handler, Promise<Dialed> result, Throwable cause) {
        metrics.upstreamConnectFailed();
        if (tried + 1 < target.attempts()) {
            loop.execute(() -> attempt(loop, target, tried + 1, meter, handler, result));
        } else {
            result.tryFailure(cause);
        }
    }

    /**
     * Makes, registers and connects one upstream channel: what {@code Bootstrap.connect} does, without
     * its per-connection option maps (filled, then copied again at init), address-resolver lookup
     * and the extra loop task it defers the connect to; together about 7 % of the user CPU per short
     * passthrough connection. Runs on {@code loop} (a task of it), so registration completes at once.
     *
     * @throws RuntimeException when the socket cannot be made or an option cannot be set (the channel is closed)
     */
    private ChannelFuture connect(EventLoop loop, InetSocketAddress address, MessageSizeEstimator meter, ChannelHandler handler) {
        Channel channel = transport.upstreamChannels(address).newChannel();
        try {
            ChannelConfig config = channel.config();
            config.setConnectTimeoutMillis(0); // timed by attempt(): Netty's would schedule a task on the loop per connect
            // TCP_NODELAY is every Netty transport's default: setting it again is a syscall more
            config.setOption(ChannelOption.SO_KEEPALIVE, true);
            config.setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
            config.setAutoRead(false);
            config.setWriteBufferWaterMark(WATER_MARK);
            config.setMessageSizeEstimator(meter);
            channel.pipeline().addLast(handler);
        } catch (RuntimeException e) {
            channel.unsafe().closeForcibly();
            throw e;
        }
        ChannelPromise connected = channel.newPromise();
        loop.register(channel).addListener((ChannelFuture registered) -> {
            if (registered.isSuccess()) {
                channel.connect(address, connected);
            } else {
                channel.unsafe().closeForcibly();
                connected.tryFailure(registered.cause());
            }
        });
        return connected;
    }
}
