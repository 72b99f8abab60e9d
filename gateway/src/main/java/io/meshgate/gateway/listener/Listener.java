package io.meshgate.gateway.listener;

import io.meshgate.gateway.config.HostPort;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.transport.Transport;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;

/**
 * One bound listener (Envoy's word): a server socket whose accepted connections run the pipeline
 * it was given (one per mode, chosen by the gateway's assembly; the listener knows no mode).
 * Tracks its open connections so a drain can wait for them.
 */
public final class Listener {

    private final ListenerContext context;
    private final HostPort address;
    private final Transport transport;
    private final DownstreamPipeline pipeline;
    private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private Channel serverChannel;
    /** Takes the connections when they run without Netty channels; null: they run the pipeline. */
    private DirectPath.Running direct;

    public Listener(ListenerContext context, HostPort address, Transport transport, DownstreamPipeline pipeline) {
        this.context = context;
        this.address = address;
        this.transport = transport;
        this.pipeline = pipeline;
    }

    /** The handlers its connections run. */
    public DownstreamPipeline pipeline() {
        return pipeline;
    }

    /** Binds (blocking, at start-up only); throws when the address is taken. */
    public void bind(EventLoopGroup group) throws InterruptedException {
        ServerChannel server = transport.newServerChannel();
        server.config().setOption(ChannelOption.SO_BACKLOG, 4096);
        server.config().setOption(ChannelOption.SO_REUSEADDR, true);
        server.pipeline().addLast(new Acceptor(context.name(), group, transport, this::accept, context.metrics()::acceptFailed));
        group.register(server).sync();
        if (pipeline instanceof PassthroughPipeline p && p.direct() != null) {
            // Before binding, so every connection takes it; null where it cannot run (not epoll).
            direct = p.direct().install(server, context, group);
        }
        try {
            server.bind(address.toSocketAddress()).sync();
        } catch (Throwable e) { // Netty's sync() rethrows the bind's IOException unchecked
            server.close();
            throw e;
        }
        serverChannel = server;
    }

    private void accept(SocketChannel ch) {
        connections.add(ch);
        Connection connection = Connection.accept(context, ch);
        if (context.metrics().active().get() > context.limits().maxConnections()) {
            connection.refuse(Outcome.OVERLOAD);
            return;
        }
        pipeline.assemble(ch, connection);
    }

    public String name() {
        return context.name();
    }

    public ListenerContext context() {
        return context;
    }

    /** The event-loop transport its server socket and connections use. */
    public Transport transport() {
        return transport;
    }

    /** The bound address (the real port when the config asked for port 0). */
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    public boolean bound() {
        return serverChannel != null && serverChannel.isActive();
    }

    /** Stops accepting; open connections go on. */
    public void stopAccepting() {
        if (serverChannel != null) {
            serverChannel.close().syncUninterruptibly();
        }
    }

    public int openConnections() {
        // Without channels, the active gauge is the count (every connection is accepted by the direct path).
        return direct != null ? context.metrics().active().get() : connections.size();
    }

    /** Whether the connections run without Netty channels (the direct passthrough path). */
    public boolean direct() {
        return direct != null;
    }

    /**
     * The user event a drain fires on every open connection: protocols that can say goodbye
     * in-band (h2 GOAWAY) start to; others ignore it and are closed at the end of the drain.
     */
    public static final Object DRAIN = new Object() {
        @Override
        public String toString() {
            return "DRAIN";
        }
    };

    /** Tells every open connection that the gateway drains ({@link #DRAIN}); runs on their event loops. */
    public void announceDrain() {
        connections.forEach(ch -> ch.pipeline().fireUserEventTriggered(DRAIN));
    }

    /**
     * The user event {@link #closeConnections} fires on every connection just before it closes it:
     * the close is final, nothing waits any more (an h2 connection's close would otherwise wait up
     * to {@code timeouts.drain} for its open streams: Netty's graceful shutdown).
     */
    public static final Object CLOSE_NOW = new Object() {
        @Override
        public String toString() {
            return "CLOSE_NOW";
        }
    };

    /**
     * Closes every open connection at once (end of a drain, after its {@code timeouts.drain}; the
     * warm-up cut off), and waits until they are closed.
     */
    public void closeConnections() {
        connections.forEach(ch -> ch.pipeline().fireUserEventTriggered(CLOSE_NOW)); // runs before the close on each loop
        connections.close().awaitUninterruptibly();
        if (direct != null) {
            direct.closeConnections();
        }
    }
}
