package io.meshgate.gateway.warmup;

import io.meshgate.routing.OutboundSni;
import io.meshgate.gateway.config.Durations;
import io.meshgate.gateway.config.GatewaySpec.WarmupSpec;
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
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JIT warm-up before the listeners bind: synthetic passthrough connections run through the real
 * data path (hello reader, router, dialer, relay, on the gateway's own event loops and transport)
 * for at least a time budget and until a number of connections has completed, whichever ends
 * later, but never past a cap: the JIT compiles after a number of calls, not after a time, so a
 * starved host needs longer for the same effect, and the cap keeps it from holding the listeners
 * back for long. A fresh JVM otherwise serves its first minutes of traffic from interpreted and
 * profiling (C1) code at several times the CPU per connection, while C2 compiles on the same
 * cores. Everything stays on 127.0.0.1 with an ephemeral passthrough listener (built by the
 * gateway's assembly, with throwaway metrics) and endpoints of its own; nothing of it is left once
 * {@link #run} returns.
 */
public final class Warmup {

    private static final Logger log = LoggerFactory.getLogger(Warmup.class);
    /** The routing name of the warm-up's endpoints (package-private for tests that route it elsewhere). */
    static final String HOST = "warmup.meshgate.invalid";
    /** The service port whose endpoint echoes and closes after the caller. */
    static final int ECHO_PORT = 8080;
    /** The service port whose endpoint echoes and closes first once it has the hello and a request. */
    static final int CLOSING_PORT = 8081;
    /**
     * The service port whose endpoint answers a real-sized hello and a request with a request-sized
     * answer and closes first, as most request/response services do.
     */
    static final int ANSWERING_PORT = 8082;
    /**
     * Connections in flight at once, spread over the event loops. The warm-up is bound by CPU, not by
     * round trips (one lane completes as many connections a second as 32 on one core): a few lanes
     * only keep every loop of a larger group busy.
     */
    private static final int PARALLEL = 8;
    /** Ping-pong messages per long connection, request/response sized (each also runs the relay's read and write). */
    private static final int MESSAGES = 8;
    private static final int MESSAGE_BYTES = 1024;
    /** One burst per long connection, large enough to move an auto-splice relay to the kernel. */
    private static final int BURST_BYTES = 128 * 1024;

    /** How often the caller's thread checks whether the warm-up is done. */
    private static final long CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** How long connections cut off at the cap get to close. */
    private static final long CLOSE_GRACE_MILLIS = 5_000;

    /**
     * What a warm-up did: {@code connections} completed, {@code failed} ended wrongly,
     * {@code cutOff} were still open when the cap ended the warm-up ({@code capped}: before the
     * count was reached).
     */
    public record Result(int connections, long bytes, Duration took, int failed, int cutOff, boolean capped) {}

    /** Why the warm-up stopped opening connections. */
    private enum End { REACHED, CAPPED, LANES_STOPPED, ABANDONED }

    private final EventLoopGroup group;
    private final Transport transport;
    private final WarmupSpec plan;
    private final Function<Router, Listener> listeners;
    /** True once the start is called off (a signal): the warm-up ends at once. */
    private final BooleanSupplier abandon;
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final AtomicInteger cutOff = new AtomicInteger();
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicInteger started = new AtomicInteger();
    /** The callers' channels in flight, closed if the cap cuts them off. */
    private final Set<Channel> open = ConcurrentHashMap.newKeySet();
    /** Set once: lanes open no more connections. */
    private volatile boolean stopping;
    /** Set once: connections still open are closed now (the cap). */
    private volatile boolean cut;

    private Warmup(EventLoopGroup group, Transport transport, WarmupSpec plan, Function<Router, Listener> listeners,
                   BooleanSupplier abandon) {
        this.group = group;
        this.transport = transport;
        this.plan = plan;
        this.listeners = listeners;
        this.abandon = abandon;
    }

    /**
     * Runs passthrough connections on {@code group} through a listener from {@code listeners} (a
     * passthrough listener on 127.0.0.1 port 0 routing with the router it is given, not bound yet)
     * for at least {@code plan.budget()} (from the first connection) and until
     * {@code plan.connections()} have completed, but no longer than {@code plan.max()} from now;
     * then lets those in flight finish (closing them at the cap) and closes everything it opened.
     */
    public static Result run(EventLoopGroup group, Transport transport, WarmupSpec plan,
                             Function<Router, Listener> listeners) throws InterruptedException {
        return run(group, transport, plan, listeners, () -> false);
    }

    /**
     * As {@link #run(EventLoopGroup, Transport, WarmupSpec, Function)}, ending early, its connections
     * closed, once {@code abandon} says so (checked every few milliseconds): a gateway told to stop
     * while it warms up does not wait for the budget.
     */
    public static Result run(EventLoopGroup group, Transport transport, WarmupSpec plan,
                             Function<Router, Listener> listeners, BooleanSupplier abandon) throws InterruptedException {
        return new Warmup(group, transport, plan, listeners, abandon).run();
    }

    private Result run() throws InterruptedException {
        long start = System.nanoTime();
        // The cap bounds how long binding waits, set-up included: that is what a starved start costs.
        long capAt = start + plan.max().toNanos();
        End end = End.CAPPED;
        byte[] smallHello = SyntheticHello.withServerName(OutboundSni.format(HOST, ECHO_PORT));
        byte[] closingHello = SyntheticHello.withServerName(OutboundSni.format(HOST, CLOSING_PORT));
        byte[] realHello = SyntheticHello.likeARealClient(OutboundSni.format(HOST, ECHO_PORT));
        byte[] answeredHello = SyntheticHello.likeARealClient(OutboundSni.format(HOST, ANSWERING_PORT));
        Channel echo = endpoint(Echo::new);
        Channel closing = endpoint(() -> new ClosingEndpoint(closingHello.length + MESSAGE_BYTES, true));
        Channel answering = endpoint(() -> new ClosingEndpoint(answeredHello.length + MESSAGE_BYTES, false));
        Listener listener = null;
        try {
            Router router = new Router(List.of(new StaticRoutes(List.of(
                    service(ECHO_PORT, echo), service(CLOSING_PORT, closing), service(ANSWERING_PORT, answering)))));
            listener = listeners.apply(router);
            listener.bind(group);
            InetSocketAddress gateway = listener.localAddress();
            List<Shape> shapes = shapes(smallHello, closingHello, realHello, answeredHello);
            CountDownLatch lanesDone = new CountDownLatch(PARALLEL);
            // The budget is for connections: setting up the endpoints and the listener (slow in a
            // cold JVM on a busy core) does not eat into it.
            long minimumAt = System.nanoTime() + plan.budget().toNanos();
            for (int i = 0; i < PARALLEL; i++) {
                lane(gateway, shapes, lanesDone);
            }
            end = awaitEnd(minimumAt, capAt, lanesDone);
            stopping = true;
            if (end == End.ABANDONED) {
                capAt = System.nanoTime(); // connections in flight are closed now, as at the cap
            }
            // Connections in flight finish within milliseconds, unless the cap has come (or comes first).
            if (!lanesDone.await(Math.max(0, capAt - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                cut = true;
                open.forEach(Channel::close);
                listener.closeConnections();
                if (!lanesDone.await(CLOSE_GRACE_MILLIS, TimeUnit.MILLISECONDS)) {
                    log.warn("warm-up: connections still open {} ms after the cap; going on without them", CLOSE_GRACE_MILLIS);
                }
            }
            listener.closeConnections();
        } finally {
            if (listener != null) {
                listener.stopAccepting();
            }
            echo.close().sync();
            closing.close().sync();
            answering.close().sync();
        }
        Result r = new Result(done.get(), bytes.get(), Duration.ofNanos(System.nanoTime() - start), failed.get(), cutOff.get(),
                end == End.CAPPED);
        String relay = listener == null ? "?" : listener.context().relay().name();
        String failures = (r.failed() > 0 ? ", " + r.failed() + " failed" : "") + (r.cutOff() > 0 ? ", " + r.cutOff() + " cut off" : "");
        if (end == End.ABANDONED) {
            log.info("warm-up: ended by a signal after {} connections in {} ms", r.connections(), r.took().toMillis());
        } else if (r.capped()) {
            log.warn("warm-up: cut short by runtime.warmupMax ({}) after {} of {} connections, {} KiB through the {} relay "
                            + "in {} ms{}; the first connections after binding run colder code", Durations.format(plan.max()),
                    r.connections(), plan.connections(), r.bytes() / 1024, relay, r.took().toMillis(), failures);
        } else {
            log.info("warm-up: {} connections (target {} in at least {}, cap {}), {} KiB through the {} relay in {} ms{}",
                    r.connections(), plan.connections(), Durations.format(plan.budget()), Durations.format(plan.max()),
                    r.bytes() / 1024, relay, r.took().toMillis(), failures);
        }
        return r;
    }

    /** An endpoint on 127.0.0.1 with a handler of its own per connection. */
    private Channel endpoint(Supplier<ChannelHandler> handler) throws InterruptedException {
        return new ServerBootstrap().group(group).channel(transport.serverChannel())
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(handler.get());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
    }

    private static StaticRoutes.StaticService service(int port, Channel endpoint) {
        InetSocketAddress address = (InetSocketAddress) endpoint.localAddress();
        return new StaticRoutes.StaticService(HOST, port, List.of(Endpoint.of("127.0.0.1", address.getPort())), AppProtocol.TCP);
    }

    /**
     * The connections of one round, taken in turn by the lanes. Most are a request/response client's
     * (a real-sized hello and the request in one write, so the gateway reads both at once as it does
     * from such clients; the answer; the endpoint's FIN first); the others a caller closing first
     * after the same exchange, TLS-like exchanges (the hello alone, its echo, then requests) ended by
     * either side, and one long connection with a burst. Fewer long ones than before (one in 16, eight
     * messages) halved the bytes per connection without losing a path: the short ones run the relay's
     * read and write too.
     */
    private static List<Shape> shapes(byte[] smallHello, byte[] closingHello, byte[] realHello, byte[] answeredHello) {
        Shape requestAnswered = new Shape(answeredHello, true, 0, 0, Ending.ENDPOINT_CLOSES, MESSAGE_BYTES);
        Shape callerCloses = new Shape(realHello, true, 0, 0, Ending.CALLER_CLOSES, realHello.length + MESSAGE_BYTES);
        Shape handshake = new Shape(smallHello, false, 2, 0, Ending.CALLER_HALF_CLOSES, smallHello.length);
        Shape handshakeClosing = new Shape(closingHello, false, 1, 0, Ending.ENDPOINT_CLOSES, closingHello.length);
        Shape isLong = new Shape(smallHello, false, MESSAGES, BURST_BYTES, Ending.CALLER_HALF_CLOSES, smallHello.length);
        return List.of(isLong, requestAnswered, handshake, requestAnswered, callerCloses, requestAnswered, handshakeClosing,
                requestAnswered, handshake, requestAnswered, handshakeClosing, requestAnswered, callerCloses, requestAnswered,
                handshake, requestAnswered);
    }

    /**
     * Waits until the time budget has passed and the count is reached, or the cap comes, or every
     * lane has stopped (the listener refused them).
     */
    private End awaitEnd(long minimumAt, long capAt, CountDownLatch lanesDone) throws InterruptedException {
        while (true) {
            long now = System.nanoTime();
            if (now - minimumAt >= 0 && done.get() >= plan.connections()) {
                return End.REACHED;
            }
            if (now - capAt >= 0) {
                return End.CAPPED;
            }
            if (abandon.getAsBoolean()) {
                return End.ABANDONED;
            }
            long wait = Math.min(CHECK_NANOS, capAt - now);
            if (now - minimumAt < 0) {
                wait = Math.min(wait, minimumAt - now);
            }
            if (lanesDone.await(wait, TimeUnit.NANOSECONDS)) {
                return End.LANES_STOPPED;
            }
        }
    }

    /** One connection after another until the warm-up stops. */
    private void lane(InetSocketAddress gateway, List<Shape> shapes, CountDownLatch lanesDone) {
        if (stopping) {
            lanesDone.countDown();
            return;
        }
        Client client = new Client(shapes.get(started.getAndIncrement() % shapes.size()));
        new Bootstrap().group(group).channel(transport.socketChannel())
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(client)
                .connect(gateway)
                .addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        (cut ? cutOff : failed).incrementAndGet();
                        lanesDone.countDown(); // the listener is gone or refusing: stop this lane
                        return;
                    }
                    Channel ch = f.channel();
                    open.add(ch);
                    ch.closeFuture().addListener(c -> {
                        open.remove(ch);
                        if (client.complete) {
                            done.incrementAndGet();
                        } else if (cut) {
                            cutOff.incrementAndGet();
                        } else {
                            failed.incrementAndGet();
                        }
                        lane(gateway, shapes, lanesDone);
                    });
                    if (cut) {
                        ch.close(); // connected just after the cap closed the others
                    }
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
     * The endpoint of a request/response service: closes first (the client's FIN comes after) once it
     * has read {@code request} bytes (the hello and a request), after sending back what it read
     * ({@code echoes}) or a request-sized answer.
     */
    private static final class ClosingEndpoint extends ChannelInboundHandlerAdapter {
        private final long request;
        private final boolean echoes;
        private long read;
        private boolean answered;

        ClosingEndpoint(long request, boolean echoes) {
            this.request = request;
            this.echoes = echoes;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf buf) {
                read += buf.readableBytes();
            }
            if (echoes) {
                ctx.write(msg);
            } else {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (read < request || answered) {
                ctx.flush();
                return;
            }
            answered = true;
            if (!echoes) {
                ctx.write(ctx.alloc().buffer(MESSAGE_BYTES).writeZero(MESSAGE_BYTES));
            }
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                ctx.close(); // the caller gave up before its request was complete
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** How a warm-up connection ends. */
    private enum Ending {
        /** The caller shuts its output down once everything came back; the endpoint's FIN follows. */
        CALLER_HALF_CLOSES,
        /** The caller closes once everything came back, as a client done with its answer does. */
        CALLER_CLOSES,
        /** The endpoint closes first; the caller closes on its FIN. */
        ENDPOINT_CLOSES
    }

    /**
     * One kind of warm-up connection: the {@code hello} (with a request in the same write if
     * {@code requestWithHello}), {@code answer} bytes back for that first flight, then {@code messages}
     * request/response sized ping-pongs and a burst of {@code burst} bytes (0: none), echoed; then the
     * {@code ending}.
     */
    private record Shape(byte[] hello, boolean requestWithHello, int messages, int burst, Ending ending, long answer) {}

    /**
     * A caller of one {@link Shape}; complete once everything came back and the connection ended as
     * the shape says (the endpoint's FIN passed on by the gateway, or the caller's own close).
     */
    private final class Client extends ChannelInboundHandlerAdapter {
        private final Shape shape;
        private long expected;
        private long received;
        private int sent;
        boolean complete;

        Client(Shape shape) {
            this.shape = shape;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            expected = shape.answer();
            ByteBuf first = shape.requestWithHello()
                    ? ctx.alloc().buffer(shape.hello().length + MESSAGE_BYTES).writeBytes(shape.hello()).writeZero(MESSAGE_BYTES)
                    : Unpooled.wrappedBuffer(shape.hello());
            ctx.writeAndFlush(first);
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
            if (sent < shape.messages()) {
                send(ctx, MESSAGE_BYTES);
            } else if (sent == shape.messages() && shape.burst() > 0) {
                send(ctx, shape.burst());
            } else if (shape.ending() == Ending.CALLER_CLOSES) {
                complete = received == expected;
                ctx.close();
            } else if (shape.ending() == Ending.CALLER_HALF_CLOSES && ctx.channel() instanceof DuplexChannel d
                    && !d.isOutputShutdown()) {
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
                complete = shape.ending() != Ending.CALLER_CLOSES && received == expected && sent >= shape.messages();
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
