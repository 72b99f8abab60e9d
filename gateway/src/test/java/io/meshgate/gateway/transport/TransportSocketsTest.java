package io.meshgate.gateway.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.SocketChannel;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The sockets a transport makes: options set once where the kernel passes them on, and an epoll
 * descriptor that stays registered (parked) once its channel wants no more events.
 */
class TransportSocketsTest {

    private final List<EventLoopGroup> groups = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        groups.forEach(g -> g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly());
    }

    @Test
    void acceptedAndUpstreamSocketsHaveNoDelayAndKeepAliveOnEpoll() throws Exception {
        assertOptions(Transport.epoll());
    }

    @Test
    void acceptedAndUpstreamSocketsHaveNoDelayAndKeepAliveOnNio() throws Exception {
        assertOptions(Transport.nio());
    }

    private void assertOptions(Transport transport) throws Exception {
        EventLoopGroup group = group(transport);
        CompletableFuture<SocketChannel> accepted = new CompletableFuture<>();
        ServerChannel listener = transport.newServerChannel();
        listener.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                SocketChannel ch = (SocketChannel) msg;
                transport.childOptions(ch.config());
                group.register(ch);
                accepted.complete(ch);
            }
        });
        group.register(listener).sync();
        listener.bind(new InetSocketAddress("127.0.0.1", 0)).sync();
        InetSocketAddress address = (InetSocketAddress) listener.localAddress();
        Channel upstream = new Bootstrap().group(group).channelFactory(transport.upstreamChannels(address))
                .option(ChannelOption.SO_KEEPALIVE, true)
                .handler(new ChannelInboundHandlerAdapter()).connect(address).sync().channel();
        SocketChannel downstream = accepted.get(10, TimeUnit.SECONDS);

        for (Channel ch : List.of(downstream, upstream)) {
            // Read back from the socket (getsockopt), not from Netty's cached config.
            assertThat(ch.config().getOption(ChannelOption.TCP_NODELAY)).as("%s TCP_NODELAY", ch).isTrue();
            assertThat(ch.config().getOption(ChannelOption.SO_KEEPALIVE)).as("%s SO_KEEPALIVE", ch).isTrue();
        }
        upstream.close().sync();
        listener.close().sync();
    }

    @Test
    void aHalfClosedChannelThatWantsNoEventsCanReadAgainAndClosesWithoutError() throws Exception {
        Transport transport = Transport.epoll();
        EventLoopGroup group = group(transport);
        List<Throwable> errors = new CopyOnWriteArrayList<>();
        CompletableFuture<Channel> eof = new CompletableFuture<>();
        ServerBootstrap server = new ServerBootstrap().group(group).channel(transport.serverChannel())
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                        if (evt instanceof ChannelInputShutdownEvent) {
                            eof.complete(ctx.channel());
                        }
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        errors.add(cause);
                    }
                });
        Channel listener = server.bind("127.0.0.1", 0).sync().channel();
        InetSocketAddress address = (InetSocketAddress) listener.localAddress();
        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            client.shutdownOutput();
            Channel child = eof.get(10, TimeUnit.SECONDS);
            // Let the loop poll the EOF again: Netty then drops the last interest (EPOLLIN), which
            // Netty 4.2.18 alone turns into EPOLL_CTL_DEL and the re-arm below into ENOENT.
            child.eventLoop().schedule(() -> { }, 100, TimeUnit.MILLISECONDS).sync();
            child.eventLoop().submit(() -> {
                child.config().setAutoRead(false);
                child.config().setAutoRead(true);
            }).sync();
            child.writeAndFlush(Unpooled.copiedBuffer("still here", StandardCharsets.US_ASCII)).sync();
            client.setSoTimeout(10_000);
            InputStream in = client.getInputStream();
            assertThat(new String(in.readNBytes(10), StandardCharsets.US_ASCII)).isEqualTo("still here");
            assertThat(child.isOpen()).isTrue();
            child.close().sync();
            assertThat(in.read()).isEqualTo(-1);
        }
        assertThat(errors).isEmpty();
        listener.close().sync();
    }

    /**
     * Once a channel's input is finished (shut down, its end of stream read and reported) the kernel
     * is no longer asked for its read events: Netty 4.2.18 leaves EPOLLIN in the interest of a
     * channel that reads on and clears it only at the next read event, which a finished input
     * reports at once (an epoll_ctl and a loop turn per connection). The read hook sees every plain
     * read event the kernel reports for the channel.
     */
    @Test
    void aFinishedInputIsNotPolledForReadsAgain() throws Exception {
        Transport transport = Transport.epoll();
        EventLoopGroup group = group(transport);
        java.util.concurrent.atomic.AtomicInteger readEventsAfterEnd = new java.util.concurrent.atomic.AtomicInteger();
        CompletableFuture<Channel> finished = new CompletableFuture<>();
        ServerBootstrap server = new ServerBootstrap().group(group).channel(transport.serverChannel())
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        io.netty.channel.socket.DuplexChannel ch = (io.netty.channel.socket.DuplexChannel) ctx.channel();
                        assertThat(EpollInterest.hookReads(ch, () -> {
                            if (ch.isInputShutdown()) {
                                readEventsAfterEnd.incrementAndGet();
                            }
                            return false; // the channel reads as usual
                        })).isTrue();
                        ctx.fireChannelActive();
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        io.netty.util.ReferenceCountUtil.release(msg);
                    }

                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                        if (evt instanceof io.netty.channel.socket.ChannelInputShutdownReadComplete) {
                            finished.complete(ctx.channel());
                        }
                    }
                });
        Channel listener = server.bind("127.0.0.1", 0).sync().channel();
        InetSocketAddress address = (InetSocketAddress) listener.localAddress();
        try (Socket client = new Socket(address.getAddress(), address.getPort())) {
            client.getOutputStream().write("x".getBytes(StandardCharsets.US_ASCII));
            client.shutdownOutput();
            Channel child = finished.get(10, TimeUnit.SECONDS);
            // Several loop turns: each would report the finished input again if it were polled.
            for (int i = 0; i < 5; i++) {
                child.eventLoop().schedule(() -> { }, 20, TimeUnit.MILLISECONDS).sync();
            }
            assertThat(readEventsAfterEnd.get()).isZero();
            // Writing still works, and the close ends the connection.
            child.writeAndFlush(Unpooled.copiedBuffer("still here", StandardCharsets.US_ASCII)).sync();
            client.setSoTimeout(10_000);
            InputStream in = client.getInputStream();
            assertThat(new String(in.readNBytes(10), StandardCharsets.US_ASCII)).isEqualTo("still here");
            child.close().sync();
            assertThat(in.read()).isEqualTo(-1);
        }
        listener.close().sync();
    }

    /**
     * A close closes the descriptor before its registration goes (no EPOLL_CTL_DEL of its own), but
     * only a close's: an active channel taken off its loop stays open and reads again once back.
     */
    @Test
    void aDeregisteredActiveChannelStaysOpenAndReadsAgainOnceRegistered() throws Exception {
        Transport transport = Transport.epoll();
        EventLoopGroup group = group(transport);
        java.util.concurrent.BlockingQueue<String> reads = new java.util.concurrent.LinkedBlockingQueue<>();
        try (java.net.ServerSocket peer = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            InetSocketAddress address = (InetSocketAddress) peer.getLocalSocketAddress();
            Channel ch = new Bootstrap().group(group).channelFactory(transport.upstreamChannels(address))
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            reads.add(((io.netty.buffer.ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                            io.netty.util.ReferenceCountUtil.release(msg);
                        }
                    }).connect(address).sync().channel();
            try (Socket accepted = peer.accept()) {
                ch.deregister().sync();
                assertThat(ch.isOpen()).isTrue();
                group.register(ch).sync();
                accepted.getOutputStream().write("again".getBytes(StandardCharsets.US_ASCII));
                assertThat(reads.poll(10, TimeUnit.SECONDS)).isEqualTo("again");
                ch.close().sync();
                accepted.setSoTimeout(10_000);
                assertThat(accepted.getInputStream().read()).isEqualTo(-1); // closed, FIN sent
                assertThat(((io.netty.channel.epoll.AbstractEpollStreamChannel) ch).fd().isOpen()).isFalse();
            }
        }
    }

    private EventLoopGroup group(Transport transport) {
        EventLoopGroup group = transport.newGroup(1, "transport-test");
        groups.add(group);
        return group;
    }
}
