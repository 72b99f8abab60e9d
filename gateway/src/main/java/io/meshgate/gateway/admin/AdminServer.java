package io.meshgate.gateway.admin;

import io.meshgate.gateway.config.HostPort;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.ReadTimeoutHandler;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The admin HTTP server ({@code /healthz}, {@code /readyz}, {@code /metrics}, {@code /debug/*}) on
 * its own thread, so a busy data path never makes probes time out. The gateway runs it on the data
 * path's transport (its own event loop of the same kind): Netty code shared by both then meets the
 * same channel and event-loop classes, so what the JIT compiled for the data path (in the warm-up)
 * stays valid when the admin server starts or answers a probe.
 */
public final class AdminServer implements AutoCloseable {

    private final AdminView view;
    private final HostPort address;
    private final EventLoopGroup group;
    private final Class<? extends ServerChannel> serverChannel;
    private Channel channel;

    /** {@code group}: its own event loop, shut down with it; {@code serverChannel}: of the group's transport. */
    public AdminServer(AdminView view, HostPort address, EventLoopGroup group, Class<? extends ServerChannel> serverChannel) {
        this.view = view;
        this.address = address;
        this.group = group;
        this.serverChannel = serverChannel;
    }

    public void start() throws InterruptedException {
        AdminHandler handler = new AdminHandler(view);
        channel = new ServerBootstrap()
                .group(group)
                .channel(serverChannel)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline()
                                .addLast(new ReadTimeoutHandler(30, TimeUnit.SECONDS))
                                .addLast(new HttpServerCodec())
                                .addLast(new HttpObjectAggregator(64 * 1024))
                                .addLast(handler);
                    }
                })
                .bind(address.toSocketAddress()).sync().channel();
    }

    public InetSocketAddress localAddress() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.close().syncUninterruptibly();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
