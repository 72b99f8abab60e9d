package io.meshgate.gateway.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A read hook sees a channel's plain read events before the channel: what it handles the channel
 * never sees, what it declines reaches the channel unchanged, and every other event (end of
 * stream) goes to the channel whatever the hook would say.
 */
class EpollReadHookTest {

    private final List<EventLoopGroup> groups = new CopyOnWriteArrayList<>();
    private final StringBuffer channelRead = new StringBuffer();
    private final CompletableFuture<Void> inactive = new CompletableFuture<>();

    @AfterEach
    void stop() {
        groups.forEach(g -> g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly());
    }

    @Test
    void aHookThatHandlesTheReadKeepsItFromTheChannel() throws Exception {
        StringBuffer hookRead = new StringBuffer();
        try (Socket client = connect(ch -> () -> {
            ByteBuffer in = ByteBuffer.allocateDirect(64);
            try {
                int n = ((io.netty.channel.unix.Socket) ((AbstractEpollStreamChannel) ch).fd()).recv(in, 0, in.capacity());
                if (n > 0) {
                    byte[] bytes = new byte[n];
                    in.get(0, bytes);
                    hookRead.append(new String(bytes, StandardCharsets.US_ASCII));
                }
                return n >= 0; // end of stream: the channel's
            } catch (java.io.IOException e) {
                return false;
            }
        })) {
            send(client, "abc");
            await().atMost(Duration.ofSeconds(10)).until(() -> hookRead.toString().equals("abc"));
            send(client, "def");
            await().atMost(Duration.ofSeconds(10)).until(() -> hookRead.toString().equals("abcdef"));
            assertThat(channelRead.toString()).isEmpty();
        }
        inactive.get(10, TimeUnit.SECONDS); // the end of stream went to the channel
    }

    @Test
    void aHookThatDeclinesLeavesTheReadToTheChannel() throws Exception {
        AtomicInteger asked = new AtomicInteger();
        try (Socket client = connect(ch -> () -> {
            asked.incrementAndGet();
            return false;
        })) {
            send(client, "abc");
            await().atMost(Duration.ofSeconds(10)).until(() -> channelRead.toString().equals("abc"));
            assertThat(asked.get()).isPositive();
        }
        inactive.get(10, TimeUnit.SECONDS);
    }

    @Test
    void endOfStreamGoesToTheChannelWhateverTheHookSays() throws Exception {
        try (Socket client = connect(ch -> () -> true)) {
            client.shutdownOutput();
            inactive.get(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void onlyChannelsOfAnEpollLoopCanBeHookedAndOnlyFromTheirLoop() throws Exception {
        CompletableFuture<Boolean> offLoop = new CompletableFuture<>();
        try (Socket client = connect(ch -> {
            offLoop.completeAsync(() -> EpollInterest.hookReads(ch, () -> false));
            return () -> false;
        })) {
            assertThat(offLoop.get(10, TimeUnit.SECONDS)).isFalse();
        }
        inactive.get(10, TimeUnit.SECONDS);

        EventLoopGroup nio = group(Transport.nio());
        io.netty.channel.socket.nio.NioSocketChannel plain = new io.netty.channel.socket.nio.NioSocketChannel();
        nio.register(plain).sync();
        assertThat(plain.eventLoop().submit(() -> EpollInterest.hookReads(plain, () -> true)).get()).isFalse();
        plain.close().sync();
    }

    /** A client connected to an epoll listener whose accepted channel gets {@code hook}'s hook (asserted installed). */
    private Socket connect(Function<Channel, EpollInterest.ReadHook> hook) throws Exception {
        Transport transport = Transport.epoll();
        EventLoopGroup group = group(transport);
        CompletableFuture<Boolean> hooked = new CompletableFuture<>();
        ServerBootstrap server = new ServerBootstrap().group(group).channel(transport.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelActive(ChannelHandlerContext ctx) {
                                hooked.complete(EpollInterest.hookReads(ctx.channel(), hook.apply(ctx.channel())));
                            }

                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                channelRead.append(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                                ReferenceCountUtil.release(msg);
                            }

                            @Override
                            public void channelInactive(ChannelHandlerContext ctx) {
                                inactive.complete(null);
                            }
                        });
                    }
                });
        Channel listener = server.bind("127.0.0.1", 0).sync().channel();
        InetSocketAddress address = (InetSocketAddress) listener.localAddress();
        Socket client = new Socket(address.getAddress(), address.getPort());
        assertThat(hooked.get(10, TimeUnit.SECONDS)).as("hook installed").isTrue();
        return client;
    }

    private static void send(Socket client, String text) throws Exception {
        OutputStream out = client.getOutputStream();
        out.write(text.getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private EventLoopGroup group(Transport transport) {
        EventLoopGroup group = transport.newGroup(1, "hook-test");
        groups.add(group);
        return group;
    }
}
