package io.meshgate.gateway.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.UnixChannel;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Events of one wait that belong to a socket closed earlier in the same turn never reach the socket
 * that got its descriptor number in that turn: the kernel reported them before the new socket was
 * in the epoll set.
 */
class EpollStaleEventsTest {

    private final List<EventLoopGroup> groups = new ArrayList<>();
    private final List<FileDescriptor> fillers = new ArrayList<>();

    @AfterEach
    void stop() throws IOException {
        groups.forEach(g -> g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly());
        for (FileDescriptor fd : fillers) {
            fd.close();
        }
    }

    @Test
    void aConnectOpenedInTheTurnThatClosedItsDescriptorsSocketIsNotEndedByThatSocketsHangUp() throws Exception {
        Transport transport = Transport.epoll();
        EventLoopGroup group = transport.newGroup(1, "stale-test");
        groups.add(group);
        Map<Integer, Channel> accepted = new ConcurrentHashMap<>(); // by the client's port
        CompletableFuture<ChannelFuture> connect = new CompletableFuture<>();
        CompletableFuture<int[]> numbers = new CompletableFuture<>(); // the closed socket's, the new one's
        try (ServerSocket target = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            Channel server = new ServerBootstrap().group(group).channel(transport.serverChannel())
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            accepted.put(((InetSocketAddress) ch.remoteAddress()).getPort(), ch);
                        }
                    })
                    .bind(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0)).sync().channel();
            try (Socket first = new Socket(java.net.InetAddress.getLoopbackAddress(), ((InetSocketAddress) server.localAddress()).getPort());
                 Socket second = new Socket(java.net.InetAddress.getLoopbackAddress(), ((InetSocketAddress) server.localAddress()).getPort())) {
                Awaitility.await().atMost(java.time.Duration.ofSeconds(5)).until(() -> accepted.size() == 2);
                Channel reader = accepted.get(first.getLocalPort());
                Channel closing = accepted.get(second.getLocalPort());
                int closingFd = ((UnixChannel) closing).fd().intValue();
                // The first one's read closes the second and opens a connect, which gets its number.
                reader.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ReferenceCountUtil.release(msg);
                        if (connect.isDone()) {
                            return;
                        }
                        closing.close();
                        ChannelFuture f = new Bootstrap().group(ctx.channel().eventLoop()).channel(transport.socketChannel())
                                .handler(new ChannelInboundHandlerAdapter())
                                .connect(target.getLocalSocketAddress());
                        numbers.complete(new int[] {closingFd, ((UnixChannel) f.channel()).fd().intValue()});
                        connect.complete(f);
                    }
                });
                fillDescriptorsBelow(closingFd);
                // Both events in one wait: the loop is held while the first sends a byte and the second hangs up.
                CountDownLatch held = new CountDownLatch(1);
                CountDownLatch release = new CountDownLatch(1);
                group.next().execute(() -> {
                    held.countDown();
                    try {
                        release.await(5, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
                assertThat(held.await(5, TimeUnit.SECONDS)).isTrue();
                first.getOutputStream().write(1);
                second.shutdownOutput(); // a FIN: it keeps its own descriptor (a close would free a lower number)
                Thread.sleep(50); // both on the wire, processed by the kernel
                release.countDown();
                int[] fds = numbers.get(5, TimeUnit.SECONDS);
                assumeTrue(fds[0] == fds[1], () -> "the new socket got another descriptor number: nothing to show (" + fds[0] + ", " + fds[1] + ")");
                ChannelFuture f = connect.get(5, TimeUnit.SECONDS);
                assertThat(f.await(5, TimeUnit.SECONDS)).isTrue();
                assertThat(f.cause()).as("the connect's outcome").isNull();
                assertThat(f.channel().isActive()).isTrue();
                f.channel().close().sync();
            }
        }
    }

    /** Opens /dev/null until the lowest free descriptor number is {@code fd} (once it is closed). */
    private void fillDescriptorsBelow(int fd) throws IOException {
        while (true) {
            FileDescriptor next = FileDescriptor.from("/dev/null");
            if (next.intValue() > fd) {
                next.close();
                return;
            }
            fillers.add(next);
        }
    }
}
