package io.meshgate.gateway.direct;

import io.meshgate.gateway.accesslog.AccessLogEntry;
import io.meshgate.gateway.listener.DirectPath;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.AutoSpliceRelay;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.gateway.relay.SpliceRelay;
import io.meshgate.gateway.transport.EpollInterest;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.RouteError;
import io.meshgate.routing.Router;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.NativeInetAddress;
import io.netty.channel.unix.Socket;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A passthrough (or egress) listener on native epoll whose connections run without any Netty
 * channel: the listener's epoll server channel stays bound, but its accept events come here first
 * ({@link EpollInterest#hookReads}), and each accepted descriptor becomes a
 * {@link DirectConnection} on an event loop of the group, which does what the channel pipeline does
 * (hello, route, dial, relay by {@code runtime.splice}, timeouts, outcomes, access log) at less CPU
 * per connection. {@link #closeConnections()} closes them at the end of a drain; the listener's
 * {@code active} gauge counts them.
 */
public final class DirectPassthrough implements EpollInterest.ReadHook, DirectPath.Running {

    private static final Logger log = LoggerFactory.getLogger(DirectPassthrough.class);

    /** Bytes of each loop's read buffer: as much as Netty reads at once, so a splice threshold up to 64 KiB can be reached. */
    static final int SCRATCH = 64 * 1024;
    /** How long {@link #closeConnections()} waits for the loops at most. */
    private static final long CLOSE_WAIT_MILLIS = 10_000;

    private static final FastThreadLocal<ByteBuf> SCRATCH_BUFFERS = new FastThreadLocal<>() {
        @Override
        protected ByteBuf initialValue() {
            return Unpooled.directBuffer(SCRATCH, SCRATCH);
        }

        @Override
        protected void onRemoval(ByteBuf value) {
            value.release();
        }
    };

    final ListenerContext context;
    /** Null: east-west (local endpoints only). */
    private final Router.EgressPolicy egress;
    private final EventLoopGroup group;
    private final Socket server;
    /** accept's peer address out-parameter ({@code [0]}: the length; the server channel's loop only). */
    private final byte[] acceptedAddress = new byte[26];
    /** The open connections on each loop of the group (read-only after construction). */
    private final Map<EventExecutor, OpenConnections> open;
    final long helloTimeoutNanos;
    final long connectTimeoutNanos;
    /** A read of this many bytes moves a direction to splice (see {@link Direction}). */
    final int spliceAt;

    private DirectPassthrough(ListenerContext context, EventLoopGroup group, Socket server, Router.EgressPolicy egress) {
        this.context = context;
        this.group = group;
        this.server = server;
        this.egress = egress;
        this.helloTimeoutNanos = context.limits().clientHelloTimeout().toNanos();
        this.connectTimeoutNanos = context.upstreams().connectTimeoutNanos();
        this.spliceAt = spliceAt(context.relay());
        Map<EventExecutor, OpenConnections> loops = new IdentityHashMap<>();
        for (EventExecutor e : group) {
            if (e instanceof EventLoop loop) {
                loops.put(e, new OpenConnections(loop));
            }
        }
        this.open = loops;
    }

    /**
     * Takes the accept events of {@code server} (registered; bound or not yet) for direct connections on
     * {@code group}; null when it cannot (not an epoll server channel, or Netty's internals this
     * hooks into are not there): the listener's channels go on as before.
     *
     * @param egressOrNull the listener's egress policy; null for an east-west (passthrough) listener
     */
    public static DirectPassthrough install(ServerChannel server, ListenerContext context, EventLoopGroup group,
                                            Router.EgressPolicy egressOrNull) {
        if (!(server instanceof EpollServerSocketChannel epoll) || !server.isRegistered()) {
            return null;
        }
        String unavailable = RawSocket.unavailable();
        if (unavailable != null) {
            log.info("listener={}: direct passthrough not available with this Netty ({}); its connections use Netty pipelines",
                    context.name(), unavailable);
            return null;
        }
        DirectPassthrough hook = new DirectPassthrough(context, group, (Socket) epoll.fd(), egressOrNull);
        if (hook.open.isEmpty()) {
            return null;
        }
        EventLoop loop = server.eventLoop();
        boolean hooked;
        try {
            hooked = loop.inEventLoop() ? hook.hook(epoll)
                    : loop.submit(() -> hook.hook(epoll)).syncUninterruptibly().getNow();
        } catch (RuntimeException e) {
            log.debug("listener={}: direct passthrough not installed: {}", context.name(), e.toString());
            return null;
        }
        return hooked ? hook : null;
    }

    private boolean hook(EpollServerSocketChannel epoll) {
        try {
            // Set once on the listening socket: Linux copies TCP_NODELAY to every socket it accepts,
            // which spares a setsockopt per accepted socket (Netty's channels set it on each).
            server.setTcpNoDelay(true);
        } catch (IOException e) {
            log.debug("listener={}: direct passthrough not installed: {}", context.name(), e.toString());
            return false;
        }
        return EpollInterest.hookReads(epoll, this);
    }

    private static int spliceAt(Relay relay) {
        if (relay instanceof AutoSpliceRelay auto) {
            return auto.threshold();
        }
        return relay instanceof SpliceRelay ? Direction.SPLICE_ALWAYS : Direction.SPLICE_NEVER;
    }

    /**
     * Closes every open direct connection of this listener, each on its own loop, and returns once
     * they are closed (waiting {@value #CLOSE_WAIT_MILLIS} ms at most). Connections accepted
     * meanwhile are closed too if their loop had not run them yet.
     */
    @Override
    public void closeConnections() {
        List<Future<?>> closing = new ArrayList<>(open.size());
        for (OpenConnections connections : open.values()) {
            if (connections.loop.inEventLoop()) {
                connections.closeAll();
                continue;
            }
            try {
                closing.add(connections.loop.submit(connections::closeAll));
            } catch (RejectedExecutionException e) {
                // the loop shuts down: it closes its registrations, hence its connections
            }
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CLOSE_WAIT_MILLIS);
        for (Future<?> f : closing) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !f.awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
                log.warn("listener={}: direct connections still closing after {} ms", context.name(), CLOSE_WAIT_MILLIS);
                return;
            }
        }
    }

    /** The calling loop's read buffer (its indexes are the caller's to set). */
    static ByteBuf scratch() {
        return SCRATCH_BUFFERS.get();
    }

    /** The route for {@code serverName}, as the channel path's {@code RouteSelector} resolves it. */
    Resolution resolve(String serverName) {
        if (egress == null) {
            return context.router().resolve(serverName);
        }
        return OutboundSni.parse(serverName)
                .map(o -> context.router().resolveEgress(o, egress, ThreadLocalRandom.current()))
                .orElse(Resolution.refused(RouteError.BAD_SNI));
    }

    /** Decodes accept's address bytes ({@code [0]}: their length), as Netty's server channel does. */
    static InetSocketAddress peer(byte[] address) {
        return NativeInetAddress.address(address, 1, address[0]);
    }

    /**
     * One accept per event: Netty 4.2.18's epoll server channel in effect accepts one per event too
     * (its "maybe more" test compares the new descriptor's number with 1). A backlog is reported
     * again before the loop waits (level-triggered), and no accept per connection ends in EAGAIN.
     */
    @Override
    public boolean readReady() {
        int fd;
        try {
            fd = server.accept(acceptedAddress);
        } catch (IOException e) {
            // EMFILE and the like: left to the channel's own read, which meets it again, counts it and pauses accepting.
            return false;
        }
        if (fd >= 0) {
            accepted(fd);
        }
        return true;
    }

    private void accepted(int fd) {
        byte[] peer = Arrays.copyOf(acceptedAddress, acceptedAddress[0] + 1);
        // As the channel path: counted active first, refused when that makes more than the maximum.
        if (context.metrics().active().incrementAndGet() > context.limits().maxConnections()) {
            overloaded(fd, peer);
            return;
        }
        EventLoop loop = (EventLoop) group.next();
        OpenConnections connections = open.get(loop);
        DirectConnection c = new DirectConnection(this, fd, loop, connections, peer);
        if (loop.inEventLoop()) {
            c.run();
            return;
        }
        try {
            loop.execute(c);
        } catch (RejectedExecutionException e) {
            c.abandon();
        }
    }

    private void overloaded(int fd, byte[] peer) {
        long start = System.nanoTime();
        // Counted before the close: whoever sees the close (the caller, a test) then sees the count too.
        context.metrics().outcome(Outcome.OVERLOAD);
        context.metrics().active().decrementAndGet();
        DirectConnection.closeQuietly(new FileDescriptor(fd));
        if (log.isDebugEnabled()) {
            Outcome.OVERLOAD.logRefusal(log, context.name(), peer(peer), null);
        }
        if (context.accessLog().enabled()) {
            context.accessLog().log(new AccessLogEntry(System.currentTimeMillis(), context.name(), peer(peer), null, null, null,
                    null, -1, 0, System.nanoTime() - start, Outcome.OVERLOAD.label()));
        }
    }
}
