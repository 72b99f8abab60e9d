package io.meshgate.gateway.listener;

import io.meshgate.gateway.relay.IdleTimeout;
import io.meshgate.gateway.relay.TrafficMeter;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.EndpointSet;
import io.meshgate.routing.Resolution;
import java.util.List;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;

/**
 * Stage 3 (passthrough): connects to an endpoint of the route on the downstream's own event loop
 * (splice needs both channels there, and it saves cross-thread hand-offs), trying the next
 * endpoint on failure up to the configured attempts. Then it forwards every byte read so far,
 * byte-identical, and hands both channels to the relay.
 */
final class UpstreamConnector extends ChannelInboundHandlerAdapter {

    /** Larger than Netty's default so bulk streams toggle autoRead less often; still bounded per connection. */
    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(64 * 1024, 256 * 1024);

    private final Connection connection;
    private final IdleTimeout idle;
    private CompositeByteBuf pending;
    private boolean connecting;
    /** The downstream half-closed before the relay existed (epoll reads to EOF on RDHUP even with autoRead off). */
    private boolean inputShutdown;
    private ChannelFuture attempt;

    UpstreamConnector(Connection connection, IdleTimeout idle) {
        this.connection = connection;
        this.idle = idle;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (pending == null) {
            pending = ctx.alloc().compositeBuffer();
        }
        pending.addComponent(true, buf);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!connecting && pending != null) {
            connecting = true;
            if (connection.gateways() != null) {
                // Egress to other clusters: every candidate gateway once, in the router's order.
                List<Endpoint> order = connection.gateways().stream().map(Resolution.RemoteGateway::gateway).toList();
                connect(ctx, order, 0, order.size());
            } else {
                EndpointSet set = connection.endpoints();
                int first = connection.listener().picker().first(set);
                List<Endpoint> order = new java.util.ArrayList<>(set.size());
                for (int i = 0; i < set.size(); i++) {
                    order.add(set.get((first + i) % set.size()));
                }
                connect(ctx, order, 0, Math.min(connection.listener().connectAttempts(), set.size()));
            }
        }
    }

    private void connect(ChannelHandlerContext ctx, List<Endpoint> order, int tried, int attempts) {
        Endpoint endpoint = order.get(tried);
        ListenerContext listener = connection.listener();
        Channel downstream = ctx.channel();
        long start = System.nanoTime();
        Bootstrap b = new Bootstrap()
                .group(downstream.eventLoop())
                .channel(listener.transport().socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, listener.connectTimeout().toMillis()))
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                .option(ChannelOption.MESSAGE_SIZE_ESTIMATOR, new TrafficMeter(listener.metrics().bytesToUpstream(), idle))
                .handler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        // The relay installs its handlers once connected.
                    }
                });
        attempt = b.connect(endpoint.socketAddress());
        attempt.addListener((ChannelFuture f) -> {
            attempt = null;
            if (!downstream.isActive()) {
                f.channel().close();
                return;
            }
            if (f.isSuccess()) {
                listener.metrics().upstreamConnected(System.nanoTime() - start);
                connected(ctx, f.channel(), endpoint);
            } else {
                listener.metrics().upstreamConnectFailed();
                if (tried + 1 < attempts) {
                    connect(ctx, order, tried + 1, attempts);
                } else {
                    connection.refuse(Outcome.UPSTREAM_FAILED);
                }
            }
        });
    }

    private void connected(ChannelHandlerContext ctx, Channel upstream, Endpoint endpoint) {
        connection.upstream(upstream, endpoint);
        connection.listener().metrics().upstreamConnection(destinationCluster(endpoint));
        connection.outcome(Outcome.ROUTED);
        ByteBuf hello = pending;
        pending = null;
        upstream.writeAndFlush(hello);
        idle.start(upstream);
        ctx.pipeline().remove(this);
        connection.listener().relay().start(ctx.channel(), upstream);
        if (inputShutdown) {
            // Replay the FIN for the relay now that it can pass it on (after the bytes before it).
            ctx.channel().pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            inputShutdown = true;
            if (!connecting && pending != null) {
                channelReadComplete(ctx); // the FIN came in the same read as the hello
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    /** The cluster a connection went to: a remote gateway's cluster, or the local source's name. */
    private String destinationCluster(Endpoint endpoint) {
        if (connection.gateways() != null) {
            for (Resolution.RemoteGateway g : connection.gateways()) {
                if (g.gateway().equals(endpoint)) {
                    return g.cluster();
                }
            }
        }
        return connection.cluster();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (attempt != null) {
            attempt.cancel(false);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (pending != null) {
            pending.release();
            pending = null;
        }
    }
}
