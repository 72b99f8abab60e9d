package io.meshgate.gateway.warmup;

import static io.meshgate.gateway.warmup.Warmup.ANSWERING_PORT;
import static io.meshgate.gateway.warmup.Warmup.CLOSING_PORT;
import static io.meshgate.gateway.warmup.Warmup.ECHO_PORT;
import static io.meshgate.gateway.warmup.Warmup.HOST;
import static io.meshgate.gateway.warmup.Warmup.RESETTING_PORT;
import static io.meshgate.gateway.warmup.Warmup.SPLITTING_BURST_PORT;
import static io.meshgate.gateway.warmup.Warmup.SPLITTING_CLOSE_PORT;
import static io.meshgate.gateway.warmup.Warmup.SPLITTING_PORT;

import io.meshgate.gateway.config.GatewaySpec.WarmupSpec;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.transport.LoopDeadlines;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The passthrough warm-up: synthetic connections through the real hello reader, router, dialer
 * and relay of a passthrough listener, to endpoints of its own, shaped like the traffic an
 * east-west gateway relays (see {@link #shapes}).
 */
final class PassthroughCourse implements Warmup.Course {

    /**
     * Connections in flight at once, spread over the event loops. The warm-up is bound by CPU, not by
     * round trips (one lane completes as many connections a second as 32 on one core): a few lanes
     * only keep every loop of a larger group busy.
     */
    private static final int PARALLEL = 8;
    /** Ping-pong messages per long connection, request/response sized (each also runs the relay's read and write). */
    private static final int MESSAGES = 8;
    private static final int MESSAGE_BYTES = 1024;
    /** A TLS 1.3 close_notify's size on the wire (an encrypted alert record): what a caller sends last. */
    private static final byte[] CLOSE_NOTIFY = new byte[24];
    /** One burst per long connection, large enough to move an auto-splice relay to the kernel. */
    private static final int BURST_BYTES = 128 * 1024;
    /** How long a {@link Ending#ENDPOINT_CLOSES_CALLER_NOTIFIES_LATER} caller waits between its last record and its close. */
    private static final long NOTIFY_TO_CLOSE_MICROS = 1_000;
    /** Every this many connections, the caller's loop restarts its deadline sweeps, as after a quiet spell. */
    private static final int TICKS_RESTART_EVERY = 64;

    private final Function<Router, Listener> listeners;
    private final AtomicLong bytes = new AtomicLong();
    /** Identifies a {@link Ending#CALLER_RESETS_UNDER_THE_ANSWER} connection to its endpoint (in its request). */
    private final AtomicLong splitIds = new AtomicLong();
    /** Such connections' endpoints that sent the first part of their answer, by id: the caller asks for the second. */
    private final Map<Long, SplitAnswer> splitAnswers = new ConcurrentHashMap<>();
    private WarmupEndpoints endpoints;
    private List<Shape> shapes;

    PassthroughCourse(Function<Router, Listener> listeners) {
        this.listeners = listeners;
    }

    @Override
    public Listener open(EventLoopGroup group, Transport transport) throws InterruptedException {
        byte[] smallHello = SyntheticHello.withServerName(OutboundSni.format(HOST, ECHO_PORT));
        byte[] closingHello = SyntheticHello.withServerName(OutboundSni.format(HOST, CLOSING_PORT));
        byte[] realHello = SyntheticHello.likeARealClient(OutboundSni.format(HOST, ECHO_PORT));
        byte[] answeredHello = SyntheticHello.likeARealClient(OutboundSni.format(HOST, ANSWERING_PORT));
        byte[] resetHello = SyntheticHello.likeARealClient(OutboundSni.format(HOST, RESETTING_PORT));
        byte[] splitHello = SyntheticHello.likeARealClient(OutboundSni.format(HOST, SPLITTING_PORT));
        byte[] splitBurstHello = SyntheticHello.likeARealClient(OutboundSni.format(HOST, SPLITTING_BURST_PORT));
        byte[] splitCloseHello = SyntheticHello.likeARealClient(OutboundSni.format(HOST, SPLITTING_CLOSE_PORT));
        endpoints = new WarmupEndpoints(group, transport);
        Channel echo = endpoint(Echo::new);
        Channel closing = endpoint(() -> new ClosingEndpoint(closingHello.length + MESSAGE_BYTES, true, false));
        Channel answering = endpoint(() -> new ClosingEndpoint(answeredHello.length + MESSAGE_BYTES, false, false));
        Channel resetting = endpoint(() -> new ClosingEndpoint(resetHello.length + MESSAGE_BYTES, false, true));
        Channel splitting = endpoint(() -> new SplittingEndpoint(splitHello.length, MESSAGE_BYTES, false));
        Channel splittingBursts = endpoint(() -> new SplittingEndpoint(splitBurstHello.length, BURST_BYTES, false));
        Channel splittingCloses = endpoint(() -> new SplittingEndpoint(splitCloseHello.length, MESSAGE_BYTES, true));
        shapes = shapes(smallHello, closingHello, realHello, answeredHello, resetHello, splitHello, splitBurstHello, splitCloseHello);
        Router router = new Router(List.of(new StaticRoutes(List.of(service(ECHO_PORT, echo), service(CLOSING_PORT, closing),
                service(ANSWERING_PORT, answering), service(RESETTING_PORT, resetting), service(SPLITTING_PORT, splitting),
                service(SPLITTING_BURST_PORT, splittingBursts), service(SPLITTING_CLOSE_PORT, splittingCloses)))));
        return listeners.apply(router);
    }

    private Channel endpoint(Supplier<ChannelHandler> handler) throws InterruptedException {
        return endpoints.open(ch -> new ChannelHandler[] {handler.get()});
    }

    @Override
    public int parallel() {
        return PARALLEL;
    }

    @Override
    public int target(WarmupSpec plan) {
        return plan.connections();
    }

    @Override
    public Warmup.Caller caller(int n) {
        return new Client(shapes.get(n % shapes.size()), n % TICKS_RESTART_EVERY == 0);
    }

    @Override
    public Bootstrap configure(Bootstrap callers) {
        return callers.option(ChannelOption.ALLOW_HALF_CLOSURE, true);
    }

    @Override
    public long bytes() {
        return bytes.get();
    }

    @Override
    public String through(Listener listener) {
        return bytes.get() / 1024 + " KiB through the " + listener.context().relay().name() + " relay";
    }

    @Override
    public void close() throws InterruptedException {
        if (endpoints != null) {
            endpoints.close();
        }
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
     * read and write too. Some callers send a last record after the endpoint's FIN (a TLS client's
     * close_notify), which the endpoint's closed socket answers with a reset: most close at once
     * (the gateway has both FINs before the reset comes), one waits a millisecond (the reset comes
     * first, an error on a socket whose end the gateway read). Last, the faults a gateway meets
     * every minute: an endpoint that resets right after its answer, a caller that resets once it
     * has its answer, and a caller that resets while the rest of its answer comes, so that the
     * gateway's send to it fails (a request-sized answer, copied; a burst, spliced) or so does its
     * passing the endpoint's FIN on. Without them the JIT compiles the relay as if no read or send
     * ever failed, and the first reset under load sends it back to the interpreter.
     */
    private static List<Shape> shapes(byte[] smallHello, byte[] closingHello, byte[] realHello, byte[] answeredHello,
            byte[] resetHello, byte[] splitHello, byte[] splitBurstHello, byte[] splitCloseHello) {
        Shape requestAnswered = new Shape(answeredHello, true, 0, 0, Ending.ENDPOINT_CLOSES, MESSAGE_BYTES);
        Shape requestAnsweredNotified = new Shape(answeredHello, true, 0, 0, Ending.ENDPOINT_CLOSES_CALLER_NOTIFIES, MESSAGE_BYTES);
        Shape requestAnsweredNotifiedLater = new Shape(answeredHello, true, 0, 0, Ending.ENDPOINT_CLOSES_CALLER_NOTIFIES_LATER,
                MESSAGE_BYTES);
        Shape endpointResets = new Shape(resetHello, true, 0, 0, Ending.ENDPOINT_RESETS, MESSAGE_BYTES);
        Shape callerResets = new Shape(realHello, true, 0, 0, Ending.CALLER_RESETS, realHello.length + MESSAGE_BYTES);
        Shape callerResetsUnderTheAnswer = new Shape(splitHello, true, 0, 0, Ending.CALLER_RESETS_UNDER_THE_ANSWER, MESSAGE_BYTES);
        Shape callerResetsUnderTheBurst = new Shape(splitBurstHello, true, 0, 0, Ending.CALLER_RESETS_UNDER_THE_ANSWER, BURST_BYTES);
        Shape callerResetsUnderTheFin = new Shape(splitCloseHello, true, 0, 0, Ending.CALLER_RESETS_UNDER_THE_ANSWER, MESSAGE_BYTES);
        Shape callerCloses = new Shape(realHello, true, 0, 0, Ending.CALLER_CLOSES, realHello.length + MESSAGE_BYTES);
        Shape handshake = new Shape(smallHello, false, 2, 0, Ending.CALLER_HALF_CLOSES, smallHello.length);
        Shape handshakeClosing = new Shape(closingHello, false, 1, 0, Ending.ENDPOINT_CLOSES, closingHello.length);
        Shape isLong = new Shape(smallHello, false, MESSAGES, BURST_BYTES, Ending.CALLER_HALF_CLOSES, smallHello.length);
        return List.of(isLong, requestAnswered, handshake, requestAnsweredNotified, callerCloses, requestAnswered, handshakeClosing,
                requestAnsweredNotified, handshake, requestAnswered, handshakeClosing, requestAnsweredNotifiedLater, callerCloses,
                requestAnswered, handshake, requestAnswered, endpointResets, callerResets, callerResetsUnderTheAnswer,
                callerResetsUnderTheBurst, callerResetsUnderTheFin);
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
     * ({@code echoes}) or a request-sized answer; {@code resets}: the close is a reset (SO_LINGER 0).
     */
    private static final class ClosingEndpoint extends ChannelInboundHandlerAdapter {
        private final long request;
        private final boolean echoes;
        private final boolean resets;
        private long read;
        private boolean answered;

        ClosingEndpoint(long request, boolean echoes, boolean resets) {
            this.request = request;
            this.echoes = echoes;
            this.resets = resets;
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
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(resets ? RESET : ChannelFutureListener.CLOSE);
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

    /**
     * The endpoint of a {@link Ending#CALLER_RESETS_UNDER_THE_ANSWER} connection: once it has read the
     * hello and a request, it sends the first part of its answer ({@code partBytes}) and waits, listed
     * under the id its caller put first in the request, for the caller to have it send the rest
     * ({@link #sendSecondPart}): as many bytes again, or its FIN ({@code closes}). Else it closes when
     * the gateway ends the connection.
     */
    private final class SplittingEndpoint extends ChannelInboundHandlerAdapter {
        private final int helloLength;
        private final int partBytes;
        private final boolean closes;
        private long read;
        private long id;
        private boolean answered;

        SplittingEndpoint(int helloLength, int partBytes, boolean closes) {
            this.helloLength = helloLength;
            this.partBytes = partBytes;
            this.closes = closes;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf buf) {
                for (int i = buf.readerIndex(); i < buf.writerIndex(); i++, read++) {
                    if (read >= helloLength && read < helloLength + Long.BYTES) {
                        id = id << 8 | buf.getByte(i) & 0xff;
                    }
                }
            }
            ReferenceCountUtil.release(msg);
            if (!answered && read >= helloLength + MESSAGE_BYTES) {
                answered = true;
                splitAnswers.put(id, new SplitAnswer(ctx.channel(), closes ? 0 : partBytes));
                ctx.writeAndFlush(ctx.alloc().buffer(partBytes).writeZero(partBytes));
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (answered) {
                splitAnswers.remove(id); // listed by this endpoint (an earlier close may have read only part of its id)
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
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

    /**
     * Has the endpoint listed under {@code id} send the rest of its answer. On the caller's own event
     * loop (one loop: the warm-up of a one-core gateway) it goes out at once, so the caller's reset
     * that follows reaches the gateway in the same wait: the gateway reads the second part, and its
     * send to the caller fails; or it reads the endpoint's FIN first, and passing it on fails. On
     * another loop it may come later or not at all (the gateway may have closed the connection by
     * then): the caller's reset is then all the gateway sees.
     */
    private void sendSecondPart(long id) {
        SplitAnswer answer = splitAnswers.remove(id);
        if (answer == null) {
            return;
        }
        Channel endpoint = answer.endpoint();
        if (answer.partBytes() == 0) {
            endpoint.close();
        } else {
            endpoint.writeAndFlush(endpoint.alloc().buffer(answer.partBytes()).writeZero(answer.partBytes()));
        }
    }

    /** A {@link SplittingEndpoint} that sent the first part of its answer, and the size of the second (0: its FIN instead). */
    private record SplitAnswer(Channel endpoint, int partBytes) {}

    /** Closes the channel with a reset once the write is out: SO_LINGER 0, then the close. */
    private static final ChannelFutureListener RESET = f -> reset(f.channel());

    private static void reset(Channel ch) {
        ch.config().setOption(ChannelOption.SO_LINGER, 0);
        ch.close();
    }

    /** How a warm-up connection ends. */
    private enum Ending {
        /** The caller shuts its output down once everything came back; the endpoint's FIN follows. */
        CALLER_HALF_CLOSES,
        /** The caller closes once everything came back, as a client done with its answer does. */
        CALLER_CLOSES,
        /** The endpoint closes first; the caller closes on its FIN. */
        ENDPOINT_CLOSES,
        /**
         * The endpoint closes first; on its FIN the caller sends a last record (as a TLS client's
         * close_notify) and closes. The endpoint's socket is closed by then: its kernel answers that
         * record with a reset, which the gateway meets on a socket whose end it already read.
         */
        ENDPOINT_CLOSES_CALLER_NOTIFIES,
        /**
         * As {@link #ENDPOINT_CLOSES_CALLER_NOTIFIES}, but the caller closes a millisecond after its
         * last record: the endpoint's reset reaches the gateway first, an error on a socket whose end
         * it read while the other way is still open, which it answers by closing the connection.
         */
        ENDPOINT_CLOSES_CALLER_NOTIFIES_LATER,
        /**
         * The endpoint resets right after its answer. How much of the answer the caller still gets
         * depends on the race between the two (the reset may overtake it): complete once it ended.
         */
        ENDPOINT_RESETS,
        /** The caller resets once everything came back. */
        CALLER_RESETS,
        /**
         * The endpoint answers in two parts; the caller has it send the second (or its FIN) once the
         * first came back, and resets at once ({@link #sendSecondPart}): the gateway then has bytes (or
         * a FIN) for a caller that reset. Complete once the first part came back.
         */
        CALLER_RESETS_UNDER_THE_ANSWER;

        /** The caller ends the connection itself, not on the endpoint's FIN: one that comes is not how it completes. */
        boolean endedByTheCaller() {
            return this == CALLER_CLOSES || this == CALLER_RESETS || this == CALLER_RESETS_UNDER_THE_ANSWER;
        }
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
    private final class Client extends ChannelInboundHandlerAdapter implements Warmup.Caller {
        private final Shape shape;
        /** Whether this caller has its loop restart its deadline sweeps ({@link LoopDeadlines#restartTicks}). */
        private final boolean restartsTicks;
        private long expected;
        private long received;
        private int sent;
        private boolean complete;
        /** {@link Ending#CALLER_RESETS_UNDER_THE_ANSWER}: this connection's id, put first in its request. */
        private long splitId;

        Client(Shape shape, boolean restartsTicks) {
            this.shape = shape;
            this.restartsTicks = restartsTicks;
        }

        @Override
        public boolean complete() {
            return complete;
        }

        @Override
        public String toString() {
            return shape.ending() + ", " + received + " of " + expected + " bytes back, " + sent + " messages sent";
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (restartsTicks) {
                LoopDeadlines.restartTicks(ctx.channel().eventLoop());
            }
            expected = shape.answer();
            ByteBuf first = shape.requestWithHello()
                    ? ctx.alloc().buffer(shape.hello().length + MESSAGE_BYTES).writeBytes(shape.hello()).writeZero(MESSAGE_BYTES)
                    : Unpooled.wrappedBuffer(shape.hello());
            if (shape.ending() == Ending.CALLER_RESETS_UNDER_THE_ANSWER) {
                splitId = splitIds.incrementAndGet();
                first.setLong(shape.hello().length, splitId);
            }
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
            } else if (shape.ending() == Ending.CALLER_RESETS) {
                complete = received == expected;
                reset(ctx.channel());
            } else if (shape.ending() == Ending.CALLER_RESETS_UNDER_THE_ANSWER && !complete) {
                complete = true; // more may come (the second part): the first is what this caller waits for
                sendSecondPart(splitId);
                reset(ctx.channel());
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
            boolean notifies = shape.ending() == Ending.ENDPOINT_CLOSES_CALLER_NOTIFIES;
            boolean notifiesLater = shape.ending() == Ending.ENDPOINT_CLOSES_CALLER_NOTIFIES_LATER;
            if (evt instanceof ChannelInputShutdownEvent && (notifies || notifiesLater)) {
                complete = received == expected;
                ChannelFuture notified = ctx.writeAndFlush(Unpooled.wrappedBuffer(CLOSE_NOTIFY));
                if (notifiesLater) {
                    ctx.executor().schedule(() -> ctx.close(), NOTIFY_TO_CLOSE_MICROS, TimeUnit.MICROSECONDS);
                } else {
                    notified.addListener(ChannelFutureListener.CLOSE);
                }
                return;
            }
            if (evt instanceof ChannelInputShutdownEvent) {
                complete = shape.ending() == Ending.ENDPOINT_RESETS
                        || !shape.ending().endedByTheCaller() && received == expected && sent >= shape.messages();
                ctx.close();
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (shape.ending() == Ending.ENDPOINT_RESETS) {
                complete = true; // the reset passed on as one
            }
            ctx.close();
        }
    }
}
