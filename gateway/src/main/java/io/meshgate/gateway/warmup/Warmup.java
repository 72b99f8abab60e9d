package io.meshgate.gateway.warmup;

import io.meshgate.gateway.config.Durations;
import io.meshgate.gateway.config.GatewaySpec.UpstreamTls;
import io.meshgate.gateway.config.GatewaySpec.WarmupSpec;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.routing.Router;
import io.meshgate.tls.TlsMaterialSource;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiFunction;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * JIT warm-up before the listeners bind: synthetic connections run through the real data path
 * (on the gateway's own event loops and transport) for at least a time budget and until a number
 * of connections has completed, whichever ends later, but never past a cap: the JIT compiles after
 * a number of calls, not after a time, so a starved host needs longer for the same effect, and the
 * cap keeps it from holding the listeners back for long. A fresh JVM otherwise serves its first
 * minutes of traffic from interpreted and profiling (C1) code at several times the CPU per
 * connection, while C2 compiles on the same cores. Everything stays on 127.0.0.1 with an ephemeral
 * listener (built by the gateway's assembly, with throwaway metrics) and endpoints of its own;
 * nothing of it is left once {@link #run} returns. What runs is a {@link Course}: passthrough
 * connections ({@link PassthroughCourse}) or TLS and HTTP through a terminate listener
 * ({@link TerminateCourse}).
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
    /** The service port whose endpoint answers as {@link #ANSWERING_PORT}'s does, then resets (SO_LINGER 0) instead of closing. */
    static final int RESETTING_PORT = 8083;
    /**
     * The service port whose endpoint answers a real-sized hello and a request in two parts, the
     * second when its caller asks for it (see {@code PassthroughCourse}).
     */
    static final int SPLITTING_PORT = 8084;
    /** The service port whose endpoint answers as {@link #SPLITTING_PORT}'s does, each part a burst (spliced). */
    static final int SPLITTING_BURST_PORT = 8085;
    /** The service port whose endpoint answers as {@link #SPLITTING_PORT}'s does, its FIN for the second part. */
    static final int SPLITTING_CLOSE_PORT = 8086;

    /** How often the caller's thread checks whether the warm-up is done. */
    private static final long CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** How long connections cut off at the cap get to close. */
    private static final long CLOSE_GRACE_MILLIS = 5_000;

    /**
     * What a warm-up did: {@code connections} completed, {@code failed} ended wrongly,
     * {@code cutOff} were still open when the cap ended the warm-up ({@code capped}: before the
     * count was reached); {@code bytes} the callers received.
     */
    public record Result(int connections, long bytes, Duration took, int failed, int cutOff, boolean capped) {}

    /** Why the warm-up stopped opening connections. */
    private enum End { REACHED, CAPPED, LANES_STOPPED, ABANDONED }

    /** One kind of warm-up: its endpoints and listener, and the callers that run through them. */
    interface Course {
        /** Starts the endpoints and returns the listener (not bound yet) that routes to them. */
        Listener open(EventLoopGroup group, Transport transport) throws Exception;

        /** Connections in flight at once, spread over the event loops. */
        int parallel();

        /** Connections this course must complete under {@code plan}. */
        int target(WarmupSpec plan);

        /** The caller of the {@code n}-th connection. */
        Caller caller(int n);

        /** Caller socket options beyond the defaults. */
        Bootstrap configure(Bootstrap callers);

        /** Bytes the callers received so far. */
        long bytes();

        /** What went through, for the log line (e.g. "97397 KiB through the auto relay"). */
        String through(Listener listener);

        /** Closes the endpoints (and what else the course made). */
        void close() throws InterruptedException;
    }

    /** A warm-up connection's handler: complete once the connection ended as its shape says. */
    interface Caller extends ChannelHandler {
        boolean complete();
    }

    /** The label of the terminate warm-up in log lines (the passthrough one has none). */
    public static final String TERMINATE = " (terminate)";

    private final EventLoopGroup group;
    private final Transport transport;
    private final WarmupSpec plan;
    private final Course course;
    /** "" or {@link #TERMINATE}: which warm-up a log line is about. */
    private final String label;
    /** True once the start is called off (a signal): the warm-up ends at once. */
    private final BooleanSupplier abandon;
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final AtomicInteger cutOff = new AtomicInteger();
    private final AtomicInteger started = new AtomicInteger();
    /** The callers' channels in flight, closed if the cap cuts them off. */
    private final Set<Channel> open = ConcurrentHashMap.newKeySet();
    /** Set once: lanes open no more connections. */
    private volatile boolean stopping;
    /** Set once: connections still open are closed now (the cap). */
    private volatile boolean cut;

    private Warmup(EventLoopGroup group, Transport transport, WarmupSpec plan, Course course, String label,
                   BooleanSupplier abandon) {
        this.group = group;
        this.transport = transport;
        this.plan = plan;
        this.course = course;
        this.label = label;
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
        return new Warmup(group, transport, plan, new PassthroughCourse(listeners), "", abandon).run();
    }

    /**
     * As {@link #run(EventLoopGroup, Transport, WarmupSpec, Function, BooleanSupplier)} through a
     * terminate listener from {@code listeners} (given the router and the warm-up's own TLS
     * material): mTLS callers speaking h2 and HTTP/1.1 to {@code http}, {@code http2} and
     * {@code grpc} endpoints of its own, reached as {@code upstream} says; a twentieth of
     * {@code plan.connections()}, each carrying several requests.
     */
    public static Result runTerminate(EventLoopGroup group, Transport transport, WarmupSpec plan, UpstreamTls upstream,
                                      BiFunction<Router, TlsMaterialSource, Listener> listeners, BooleanSupplier abandon)
            throws InterruptedException {
        return new Warmup(group, transport, plan, new TerminateCourse(listeners, upstream), TERMINATE, abandon).run();
    }

    private Result run() throws InterruptedException {
        long start = System.nanoTime();
        // The cap bounds how long binding waits, set-up included: that is what a starved start costs.
        long capAt = start + plan.max().toNanos();
        End end = End.CAPPED;
        int target = course.target(plan);
        Listener listener = null;
        try {
            try {
                listener = course.open(group, transport);
            } catch (InterruptedException | RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
            listener.bind(group);
            InetSocketAddress gateway = listener.localAddress();
            CountDownLatch lanesDone = new CountDownLatch(course.parallel());
            // The budget is for connections: setting up the endpoints and the listener (slow in a
            // cold JVM on a busy core) does not eat into it.
            long minimumAt = System.nanoTime() + plan.budget().toNanos();
            for (int i = 0; i < course.parallel(); i++) {
                lane(gateway, lanesDone);
            }
            end = awaitEnd(minimumAt, capAt, target, lanesDone);
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
                    log.warn("warm-up{}: connections still open {} ms after the cap; going on without them", label,
                            CLOSE_GRACE_MILLIS);
                }
            }
            listener.closeConnections();
        } finally {
            if (listener != null) {
                listener.stopAccepting();
            }
            course.close();
        }
        Result r = new Result(done.get(), course.bytes(), Duration.ofNanos(System.nanoTime() - start), failed.get(),
                cutOff.get(), end == End.CAPPED);
        String through = listener == null ? "nothing" : course.through(listener);
        String failures = (r.failed() > 0 ? ", " + r.failed() + " failed" : "") + (r.cutOff() > 0 ? ", " + r.cutOff() + " cut off" : "");
        if (end == End.ABANDONED) {
            log.info("warm-up{}: ended by a signal after {} connections in {} ms", label, r.connections(), r.took().toMillis());
        } else if (r.capped()) {
            log.warn("warm-up{}: cut short by runtime.warmupMax ({}) after {} of {} connections, {} in {} ms{}; "
                            + "the first connections after binding run colder code", label, Durations.format(plan.max()),
                    r.connections(), target, through, r.took().toMillis(), failures);
        } else {
            log.info("warm-up{}: {} connections (target {} in at least {}, cap {}), {} in {} ms{}", label,
                    r.connections(), target, Durations.format(plan.budget()), Durations.format(plan.max()),
                    through, r.took().toMillis(), failures);
        }
        return r;
    }

    /**
     * Waits until the time budget has passed and the count is reached, or the cap comes, or every
     * lane has stopped (the listener refused them).
     */
    private End awaitEnd(long minimumAt, long capAt, int target, CountDownLatch lanesDone) throws InterruptedException {
        while (true) {
            long now = System.nanoTime();
            if (now - minimumAt >= 0 && done.get() >= target) {
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
    private void lane(InetSocketAddress gateway, CountDownLatch lanesDone) {
        if (stopping) {
            lanesDone.countDown();
            return;
        }
        Caller caller = course.caller(started.getAndIncrement());
        course.configure(new Bootstrap().group(group).channel(transport.socketChannel())
                        .option(ChannelOption.TCP_NODELAY, true))
                .handler(caller)
                .connect(gateway)
                .addListener((ChannelFutureListener) f -> {
                    if (!f.isSuccess()) {
                        (cut ? cutOff : failed).incrementAndGet();
                        log.debug("warm-up{}: a connection failed, its lane stops: {}", label, f.cause().toString());
                        lanesDone.countDown(); // the listener is gone or refusing: stop this lane
                        return;
                    }
                    Channel ch = f.channel();
                    open.add(ch);
                    ch.closeFuture().addListener(c -> {
                        open.remove(ch);
                        if (caller.complete()) {
                            done.incrementAndGet();
                        } else if (cut) {
                            cutOff.incrementAndGet();
                        } else {
                            failed.incrementAndGet();
                            log.debug("warm-up{}: a connection did not end as its shape says: {}", label, caller);
                        }
                        lane(gateway, lanesDone);
                    });
                    if (cut) {
                        ch.close(); // connected just after the cap closed the others
                    }
                });
    }
}
