package io.meshgate.gateway.warmup;

import io.meshgate.gateway.transport.Transport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * A warm-up course's endpoints on 127.0.0.1, and the connections they accepted: {@link #close}
 * closes both, since closing a server channel leaves its accepted connections open (and a gateway
 * pool would keep its connections to them, with what they hold, for the life of the process).
 */
final class WarmupEndpoints {

    /** How long closing one accepted connection may take at the end. */
    private static final long CLOSE_MILLIS = 1_000;

    private final EventLoopGroup group;
    private final Transport transport;
    private final List<Channel> servers = new ArrayList<>();
    private final Set<Channel> accepted = ConcurrentHashMap.newKeySet();

    WarmupEndpoints(EventLoopGroup group, Transport transport) {
        this.group = group;
        this.transport = transport;
    }

    /** An endpoint whose accepted connections get the handlers {@code pipeline} makes for each. */
    Channel open(Function<Channel, ChannelHandler[]> pipeline) throws InterruptedException {
        Channel server = new ServerBootstrap().group(group).channel(transport.serverChannel())
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.add(ch);
                        ch.closeFuture().addListener(f -> accepted.remove(ch));
                        ch.pipeline().addLast(pipeline.apply(ch));
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        servers.add(server);
        return server;
    }

    /** Closes the endpoints, then what they accepted and is still open. */
    void close() throws InterruptedException {
        for (Channel server : servers) {
            server.close().sync();
        }
        for (Channel ch : List.copyOf(accepted)) {
            ch.close().await(CLOSE_MILLIS, TimeUnit.MILLISECONDS);
        }
    }
}
