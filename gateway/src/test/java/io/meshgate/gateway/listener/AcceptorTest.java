package io.meshgate.gateway.listener;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.SocketChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A listener's acceptor: an accepted connection has its options and its pipeline before it is
 * active (its handlers see it become active, as they would behind an initializer), and a failed
 * accept pauses accepting instead of reaching the end of the server channel's pipeline.
 */
class AcceptorTest {

    private final List<EventLoopGroup> groups = new CopyOnWriteArrayList<>();
    private final List<ServerChannel> servers = new CopyOnWriteArrayList<>();
    private final java.util.concurrent.atomic.AtomicInteger acceptFailures = new java.util.concurrent.atomic.AtomicInteger();

    @AfterEach
    void stop() {
        servers.forEach(s -> s.close().syncUninterruptibly());
        groups.forEach(g -> g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly());
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void anAcceptedConnectionHasItsOptionsAndPipelineBeforeItIsActive(String kind) throws Exception {
        BlockingQueue<SocketChannel> active = new LinkedBlockingQueue<>();
        ServerChannel server = listen(kind, 2, ch -> ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                active.add((SocketChannel) ctx.channel());
            }
        }));
        for (int i = 0; i < 4; i++) { // both loops of the group: the server's own and the other
            try (Socket client = new Socket()) {
                client.connect(server.localAddress());
                SocketChannel ch = active.poll(10, TimeUnit.SECONDS);
                assertThat(ch).as("connection %d seen active by its pipeline", i).isNotNull();
                assertThat(ch.config().getOption(ChannelOption.ALLOW_HALF_CLOSURE)).isTrue();
                assertThat(ch.config().getWriteBufferWaterMark()).isEqualTo(EndpointDialer.WATER_MARK);
                assertThat(ch.config().getOption(ChannelOption.SO_KEEPALIVE)).isTrue();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"epoll", "nio"})
    void aFailedAcceptPausesAcceptingAndEndsAtTheAcceptor(String kind) throws Exception {
        CompletableFuture<Throwable> reachedTail = new CompletableFuture<>();
        ServerChannel server = listen(kind, 1, ch -> { });
        server.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                reachedTail.complete(cause);
            }
        });
        server.eventLoop().submit(() -> server.pipeline().fireExceptionCaught(new IOException("accept(..) failed: Too many open files"))).sync();
        assertThat(server.config().isAutoRead()).isFalse();
        assertThat(acceptFailures.get()).isEqualTo(1);
        await().atMost(Duration.ofSeconds(5)).until(() -> server.config().isAutoRead());
        assertThat(reachedTail).isNotDone();
    }

    private ServerChannel listen(String kind, int threads, Consumer<SocketChannel> pipeline) throws Exception {
        Transport transport = kind.equals("epoll") ? Transport.epoll() : Transport.nio();
        EventLoopGroup group = transport.newGroup(threads, "acceptor-test");
        groups.add(group);
        ServerChannel server = transport.newServerChannel();
        server.pipeline().addLast(new Acceptor("test", group, transport, pipeline, acceptFailures::incrementAndGet));
        group.register(server).sync();
        server.bind(new InetSocketAddress("127.0.0.1", 0)).sync();
        servers.add(server);
        return server;
    }
}
