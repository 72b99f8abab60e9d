package io.meshgate.gateway.listener;

import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The handler of a listener's server channel: each accepted connection is registered with an event
 * loop of the group and, once registered there (before it is active, so before its first read), gets
 * its options and the listener's pipeline. What Netty's {@code ServerBootstrap} acceptor and a
 * {@code ChannelInitializer} do together, without a per-connection option map copied onto the
 * channel, an initializer added to and removed from every pipeline, and its per-connection entry in a
 * concurrent map: about 8 % of the user CPU of a short passthrough connection in a profile.
 *
 * <p>A failed accept (the descriptor limit reached: {@code EMFILE}) pauses accepting for a second, as
 * Netty's acceptor does, so the loop does not spin on a backlog it cannot take, and is logged
 * without a stack trace (at most once per pause).
 */
@ChannelHandler.Sharable
final class Acceptor extends ChannelInboundHandlerAdapter implements ChannelFutureListener {

    private static final Logger log = LoggerFactory.getLogger(Acceptor.class);

    /** How long accepting pauses after a failed accept. */
    static final long PAUSE_MILLIS = 1000;

    private final String listener;
    private final EventLoopGroup group;
    private final Transport transport;
    private final Consumer<SocketChannel> pipeline;
    private final Runnable failed;

    /**
     * @param listener  the listener's name, for the log
     * @param group     the loops accepted connections run on (one each, in turn)
     * @param transport the accepted sockets' transport (the options they do not inherit)
     * @param pipeline  makes an accepted connection's pipeline (on its loop, before it is active)
     * @param failed    counts a failed accept (the listener's metric)
     */
    Acceptor(String listener, EventLoopGroup group, Transport transport, Consumer<SocketChannel> pipeline, Runnable failed) {
        this.listener = listener;
        this.group = group;
        this.transport = transport;
        this.pipeline = pipeline;
        this.failed = failed;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        SocketChannel child = (SocketChannel) msg;
        ChannelPromise registered = child.newPromise();
        registered.addListener(this); // before registering: it then runs before the channel is active
        try {
            group.register(registered);
        } catch (RuntimeException e) { // the group is shutting down
            child.unsafe().closeForcibly();
            log.debug("listener={} could not register an accepted connection: {}", listener, e.toString());
        }
    }

    /** The connection is registered on its loop (or its registration failed: Netty has closed it then). */
    @Override
    public void operationComplete(ChannelFuture registered) {
        SocketChannel child = (SocketChannel) registered.channel();
        if (!registered.isSuccess()) {
            log.debug("listener={} could not register an accepted connection: {}", listener, registered.cause().toString());
            return;
        }
        try {
            ChannelConfig config = child.config();
            config.setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
            config.setWriteBufferWaterMark(EndpointDialer.WATER_MARK);
            transport.childOptions(config);
            pipeline.accept(child);
        } catch (RuntimeException e) { // an option the socket refused: this connection only
            log.warn("listener={} peer={} closing an accepted connection that could not be set up: {}", listener,
                    child.remoteAddress(), e.toString());
            child.close();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        failed.run();
        ChannelConfig config = ctx.channel().config();
        if (config.isAutoRead()) {
            config.setAutoRead(false);
            ctx.channel().eventLoop().schedule(() -> config.setAutoRead(true), PAUSE_MILLIS, TimeUnit.MILLISECONDS);
            log.warn("listener={} accept failed, accepting again in {} ms: {}", listener, PAUSE_MILLIS, cause.toString());
        }
    }
}
