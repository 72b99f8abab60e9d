package io.meshgate.gateway.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.config.GatewaySpec;
import io.meshgate.gateway.testing.HeldLoop;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.EndpointSet;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The end-of-connection race of a busy event loop, reproduced deterministically with real sockets.
 * One epoll_wait batch holds an event for channel X (its peer's FIN) behind an event for channel T.
 * T's handler closes X, which frees X's file descriptor number, and dials an upstream; Linux gives
 * the new socket the lowest free number, X's. The batch's stale event for X is then dispatched by
 * number to the new upstream. Dialed inline with a deferred connect (Netty's Bootstrap), that
 * socket was not yet connected: recv failed with ENOTCONN (NotYetConnectedException at the tail of
 * an empty pipeline) and the stale RDHUP shut its input, so the backend's answer was never read.
 */
class StaleEpollEventTest {

    @Test
    void aDialStartedWhileAnEventBatchIsProcessedNeverReceivesAClosedChannelsStaleEvent() throws Exception {
        Assumptions.assumeTrue(Epoll.isAvailable(), "native epoll");
        Transport transport = Transport.epoll();
        EventLoopGroup group = transport.newGroup(1, "stale-event");
        List<Socket> held = new ArrayList<>();
        try (ServerSocket peers = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
             ServerSocket backend = new ServerSocket(0, 16, InetAddress.getLoopbackAddress())) {
            EventLoop loop = group.next();
            byte[] greeting = "the backend speaks first".getBytes(StandardCharsets.US_ASCII);
            Thread backendThread = new Thread(() -> {
                try {
                    Socket s = backend.accept();
                    held.add(s);
                    s.getOutputStream().write(greeting);
                    s.getOutputStream().flush();
                } catch (IOException ignored) {
                    // the test fails on what the upstream did not receive
                }
            });
            backendThread.setDaemon(true);
            backendThread.start();

            ListenerMetrics metrics = new ListenerMetrics(new SimpleMeterRegistry(), "stale");
            EndpointDialer dialer = new EndpointDialer(transport,
                    new EndpointPicker(GatewaySpec.BalancingPolicy.ROUND_ROBIN), metrics, 1, Duration.ofSeconds(5));
            EndpointSet backendSet = new EndpointSet(List.of(Endpoint.of("127.0.0.1", backend.getLocalPort())), AppProtocol.TCP);

            Queue<Object> upstreamEvents = new ConcurrentLinkedQueue<>();
            AtomicReference<Future<EndpointDialer.Dialed>> dialed = new AtomicReference<>();
            AtomicReference<Channel> x = new AtomicReference<>();
            int[] fds = new int[2];
            ChannelInboundHandlerAdapter recorder = new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    upstreamEvents.add(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                    ReferenceCountUtil.release(msg);
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    upstreamEvents.add(evt);
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    upstreamEvents.add(cause);
                }

                @Override
                public boolean isSharable() {
                    return true;
                }
            };
            ChannelInboundHandlerAdapter trigger = new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ReferenceCountUtil.release(msg);
                    Channel victim = x.get();
                    fds[0] = ((EpollSocketChannel) victim).fd().intValue();
                    victim.close();
                    Future<EndpointDialer.Dialed> f = dialer.dial(loop, dialer.pick(io.meshgate.gateway.upstream.Route.local(backendSet, "")), new io.netty.channel.DefaultMessageSizeEstimator(0), recorder);
                    dialed.set(f);
                }
            };

            fillFileDescriptorGaps(held);
            Channel t = connect(loop, peers.getLocalPort(), trigger);
            Socket tPeer = peers.accept();
            held.add(tPeer);
            Channel victim = connect(loop, peers.getLocalPort(), new ChannelInboundHandlerAdapter());
            Socket xPeer = peers.accept();
            held.add(xPeer);
            x.set(victim);

            // Hold the loop while both become readable, T first: the next epoll_wait returns [T, X].
            HeldLoop hold = HeldLoop.hold(loop, Duration.ofSeconds(10));
            OutputStream tOut = tPeer.getOutputStream();
            tOut.write('t');
            tOut.flush();
            Thread.sleep(50);
            xPeer.shutdownOutput(); // X: EPOLLIN | EPOLLRDHUP, behind T's event
            Thread.sleep(50);
            hold.close();

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (dialed.get() == null && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(dialed.get()).as("T's event was handled").isNotNull();
            Channel upstream = dialed.get().get(10, TimeUnit.SECONDS).channel();
            fds[1] = ((EpollSocketChannel) upstream).fd().intValue();
            Assumptions.assumeTrue(fds[0] == fds[1], "the upstream reused X's descriptor number (another thread freed a lower one)");
            loop.submit(() -> upstream.config().setAutoRead(true)).sync();
            deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!upstreamEvents.contains(new String(greeting, StandardCharsets.US_ASCII)) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(upstreamEvents).as("what the upstream saw: the greeting only, no stale event")
                    .containsExactly(new String(greeting, StandardCharsets.US_ASCII));
            assertThat(upstreamEvents).noneMatch(e -> e instanceof ChannelInputShutdownEvent || e instanceof Throwable);
            upstream.close().sync();
            t.close().sync();
        } finally {
            for (Socket s : held) {
                s.close();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static Channel connect(EventLoop loop, int port, ChannelInboundHandlerAdapter handler) throws InterruptedException {
        return new Bootstrap().group(loop).channel(EpollSocketChannel.class)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(handler);
                    }
                })
                .connect(InetAddress.getLoopbackAddress(), port).sync().channel();
    }

    /**
     * Occupies every free descriptor number below the highest one in use, so that a closed
     * channel's number is the lowest free one and the next socket gets it.
     */
    private static void fillFileDescriptorGaps(List<Socket> held) throws IOException {
        try (var listing = Files.list(Path.of("/proc/self/fd"))) {
            List<Integer> used = listing.map(p -> Integer.parseInt(p.getFileName().toString())).sorted().toList();
            int max = used.get(used.size() - 1);
            int gaps = max + 1 - used.size();
            for (int i = 0; i < gaps; i++) {
                Socket filler = new Socket(); // an unconnected socket: one descriptor
                filler.bind(null);
                held.add(filler);
            }
        }
    }
}
