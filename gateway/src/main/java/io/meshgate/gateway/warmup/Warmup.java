package io.meshgate.gateway.warmup;

import io.meshgate.routing.OutboundSni;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JIT warm-up before the listeners bind: synthetic passthrough connections run through the real
 * data path (hello reader, router, dialer, relay, on the gateway's own event loops and transport)
 * for a short budget. A fresh JVM otherwise serves its first minutes of traffic from interpreted
 * and profiling (C1) code at several times the CPU per connection, while C2 compiles on the same
 * cores. Everything stays on 127.0.0.1 with an ephemeral passthrough listener (built by the
 * gateway's assembly, with throwaway metrics) and an echo endpoint; nothing of it is left once
 * {@link #run} returns.
 */
public final class Warmup {

    private static final Logger log = LoggerFactory.getLogger(Warmup.class);
    private static final String HOST = "warmup.meshgate.invalid";
    private static final String SNI = OutboundSni.format(HOST, 8080);
    /** Connections in flight at once. */
    private static final int PARALLEL = 8;
    /** Ping-pong messages per long connection, request/response sized; short ones send two. */
    private static final int MESSAGES = 24;
    /** One connection in this many is long (messages and a burst): most exercise connection set-up and teardown. */
    private static final int LONG_EVERY = 8;
    private static final int MESSAGE_BYTES = 1024;
    /** One burst per long connection, large enough to move an auto-splice relay to the kernel. */
    private static final int BURST_BYTES = 128 * 1024;

    /** What a warm-up did. */
    public record Result(int connections, long bytes, Duration took, int failed) {}

    private final EventLoopGroup group;
    private final Transport transport;
    private final Duration budget;
    private final Function<Router, Listener> listeners;
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicInteger started = new AtomicInteger();
    private volatile long deadline;

    private Warmup(EventLoopGroup group, Transport transport, Duration budget, Function<Router, Listener> listeners) {
        this.group = group;
        this.transport = transport;
        this.budget = budget;
        this.listeners = listeners;
    }

    /**
     * Runs passthrough connections on {@code group} for about {@code budget} through a listener
     * from {@code listeners} (a passthrough listener on 127.0.0.1 port 0 routing with the router
     * it is given, not bound yet), then waits for those in flight (bounded) and closes everything
     * it opened.
     */
    public static Result run(EventLoopGroup group, Transport transport, Duration budget,
                             Function<Router, Listener> listeners) throws InterruptedException {
        return new Warmup(group, transport, budget, listeners).run();
    }

    private Result run() throws InterruptedException {
        long start = System.nanoTime();
        Channel echo = new ServerBootstrap().group(group).channel(transport.serverChannel())
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new Echo())
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
        Listener listener = null;
        try {
            InetSocketAddress echoAddress = (InetSocketAddress) echo.localAddress();
            Router router = new Router(List.of(new StaticRoutes(List.of(new StaticRoutes.StaticService(HOST, 8080,
                    List.of(Endpoint.of("127.0.0.1", echoAddress.getPort())), AppProtocol.TCP)))));
            listener = listeners.apply(router);
            listener.bind(group);
            InetSocketAddress gateway = listener.localAddress();
            byte[] hello = SyntheticHello.withServerName(SNI);
            CountDownLatch lanesDone = new CountDownLatch(PARALLEL);
            deadline = start + budget.toNanos();
            for (int i = 0; i < PARALLEL; i++) {
                lane(gateway, hello, lanesDone);
            }
            // Each lane stops opening connections at the deadline; a stuck one does not hold start-up.
            if (!lanesDone.await(budget.toMillis() + 5_000, TimeUnit.MILLISECONDS)) {
                log.warn("warm-up: connections still open after the budget; going on without them");
            }
            listener.closeConnections();
        } finally {
            if (listener != null) {
                listener.stopAccepting();
            }
            echo.close().sync();
        }
        Result r = new Result(done.get(), bytes.get(), Duration.ofNanos(System.nanoTime() - start), failed.get());
        log.info("warm-up: {} connections, {} KiB through the {} relay in {} ms{}", r.connections(), r.bytes() / 1024,
                listener == null ? "?" : listener.context().relay().name(), r.took().toMillis(), r.failed() > 0 ? " (" + r.failed() + " failed)" : "");
        return r;
    }

    /** One connection after another until the deadline. */
    private void lane(InetSocketAddress gateway, byte[] hello, CountDownLatch lanesDone) {
        if (System.nanoTime() - deadline >= 0) {
            lanesDone.countDown();
            return;
        }
        boolean isLong = started.getAndIncrement() % LONG_EVERY == 0;
        Client client = new Client(hello, isLong ? MESSAGES : 2, isLong ? BURST_BYTES : 0);
        new Bootstrap().group(group).channel(transport.socketChannel())
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(client)
                .connect(gateway)
                .addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        failed.incrementAndGet();
                        lanesDone.countDown(); // the listener is gone or refusing: stop this lane
                        return;
                    }
                    f.channel().closeFuture().addListener(c -> {
                        if (client.complete) {
                            done.incrementAndGet();
                        } else {
                            failed.incrementAndGet();
                        }
                        lane(gateway, hello, lanesDone);
                    });
                });
    }

    /** The endpoint: sends back what it reads, and its FIN after the client's. */
    private static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public boolean isSharable() {
            return true;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE); // after the echo, our FIN
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /**
     * A caller: the hello, then request/response sized messages one at a time, maybe one burst,
     * then its FIN; complete once everything came back and the gateway passed the echo's FIN on.
     */
    private final class Client extends ChannelInboundHandlerAdapter {
        private final byte[] hello;
        private final int messages;
        private final int burst;
        private long expected;
        private long received;
        private int sent;
        boolean complete;

        Client(byte[] hello, int messages, int burst) {
            this.hello = hello;
            this.messages = messages;
            this.burst = burst;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            expected = hello.length;
            ctx.writeAndFlush(Unpooled.wrappedBuffer(hello));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf buf) {
                received += buf.readableBytes();
                bytes.addAndGet(buf.readableBytes());
            }
            ReferenceCountUtil.release(msg);
            if (received < expected) {
                return;
            }
            if (sent < messages) {
                send(ctx, MESSAGE_BYTES);
            } else if (sent == messages && burst > 0) {
                send(ctx, burst);
            } else if (ctx.channel() instanceof DuplexChannel d && !d.isOutputShutdown()) {
                d.shutdownOutput();
            }
        }

        private void send(ChannelHandlerContext ctx, int size) {
            sent++;
            expected += size;
            ctx.writeAndFlush(ctx.alloc().buffer(size).writeZero(size));
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                complete = received == expected && sent >= messages;
                ctx.close();
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
