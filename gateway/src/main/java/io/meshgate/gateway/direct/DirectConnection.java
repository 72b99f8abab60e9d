package io.meshgate.gateway.direct;

import io.meshgate.gateway.accesslog.AccessLogEntry;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.IdleTimeout;
import io.meshgate.gateway.transport.EpollInterest;
import io.meshgate.gateway.transport.LoopDeadlines;
import io.meshgate.gateway.upstream.Route;
import io.meshgate.gateway.upstream.UpstreamTarget;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.Resolution;
import io.meshgate.tls.hello.ClientHelloReader;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.NativeInetAddress;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One passthrough connection without Netty channels, the direct counterpart of a channel's
 * {@code Connection} with its pipeline: the accepted socket and the upstream socket are bare
 * descriptors ({@link Side}) registered with the event loop's epoll handler. It reads the
 * ClientHello (within {@code timeouts.clientHello}), routes its SNI, dials the route's candidates
 * as {@code EndpointDialer} does (each try within {@code timeouts.connect}, a failed try moves on),
 * sends the hello first, then relays both ways ({@link Direction}: copy or splice, half-close
 * passed on) until both directions finished, an error, the idle timeout or a drain. Its outcome is
 * counted once, by the rules of the channel path, and its access log entry written at close.
 * Event loop only, but for the constructor (the accepting loop).
 */
final class DirectConnection implements Runnable, IdleTimeout.Target {

    private static final Logger log = LoggerFactory.getLogger(DirectConnection.class);

    private static final int IN = EpollIoOps.EPOLLIN.value();
    private static final int OUT = EpollIoOps.EPOLLOUT.value();
    private static final int RDHUP = EpollIoOps.EPOLLRDHUP.value();
    private static final int ERR = EpollIoOps.EPOLLERR.value();
    private static final int HUP = 0x10; // EPOLLHUP (Linux ABI)

    private final DirectPassthrough listener;
    private final ListenerContext context;
    private final ListenerMetrics metrics;
    private final EventLoop loop;
    private final OpenConnections open;
    /** accept's address bytes ({@code [0]}: their length), decoded only when needed. */
    private final byte[] peerAddress;
    private final long acceptedNanos = System.nanoTime();
    /** Its place in {@link #open}. */
    DirectConnection prev;
    DirectConnection next;

    private final Side down;
    /** The upstream socket of the connect attempt in flight, then of the connection; null before and between attempts. */
    private Side up;
    /** Non-null while the hello is read. */
    private ClientHelloReader reader;
    /** The hello's bytes when it took more than one read. */
    private ByteBuf hello;
    private LoopDeadlines.Timeout helloTimeout;
    private String serverName;
    private Route route;
    private UpstreamTarget target;
    /** Connect attempts made (the one in flight included). */
    private int tried;
    private long connectStart;
    private LoopDeadlines.Timeout connectTimeout;
    private Endpoint endpoint;
    private String cluster;
    private Direction toUp;
    private Direction toDown;
    private IdleTimeout idle;
    private boolean connected;
    private boolean closed;
    /** {@link #resume} is queued on the loop. */
    private boolean resumeQueued;
    /** Reads on after a direction stopped at its reads-per-turn bound (made at the first). */
    private Runnable resume;
    private Outcome outcome;
    /** Events handled (what the speculative read and send spare shows here; tests read it). */
    int events;

    /** The accepting loop: counted active already. */
    DirectConnection(DirectPassthrough listener, int fd, EventLoop loop, OpenConnections open, byte[] peerAddress) {
        this.listener = listener;
        this.context = listener.context;
        this.metrics = context.metrics();
        this.loop = loop;
        this.open = open;
        this.peerAddress = peerAddress;
        this.down = new Side(fd, this, true);
    }

    /** On the connection's loop: registers the accepted socket and starts reading the hello. */
    @Override
    public void run() {
        open.add(this);
        reader = new ClientHelloReader(context.limits().clientHelloMaxBytes());
        if (!register(down)) {
            close();
            return;
        }
        // Read at once, as HAProxy does: a client sends its hello right after its connect completes,
        // so it is often there by the time the accept is made. Found, it spares the pass through the
        // loop that would report it and the hello's deadline; not there, it costs one recv (EAGAIN).
        down.inReady = true;
        guarded(this::pump);
        long nanos = listener.helloTimeoutNanos;
        if (nanos > 0 && !closed && reader != null) {
            helloTimeout = LoopDeadlines.start(loop, nanos, this::helloTimedOut);
        }
    }

    /** The loop refused the connection (it shuts down): closed without having run. */
    void abandon() {
        closed = true;
        metrics.outcome(Outcome.BAD_HELLO);
        metrics.active().decrementAndGet();
        closeQuietly(down);
    }

    private boolean register(Side side) {
        try {
            IoRegistration r = EpollInterest.registerDirect(side);
            if (r == null) { // not an EpollInterest loop: the event loop's own registration
                r = ((IoEventLoop) loop).register(side).getNow();
            }
            side.registration = r;
            if (r == null) {
                return false;
            }
            side.watch();
            return true;
        } catch (Exception e) {
            debug("registering a socket failed: {}", e.toString());
            return false;
        }
    }

    /**
     * An event for {@code side}: {@code ops} as epoll reported them, edge-triggered (possibly stale: a
     * reused descriptor number). What it tells is kept on the side; then everything that can move does.
     */
    void event(Side side, int ops) {
        if (closed || side != down && side != up) {
            return; // else: an earlier connect attempt's socket, closed
        }
        events++;
        try {
            if ((ops & (IN | RDHUP | HUP | ERR)) != 0) {
                side.inReady = true;
                side.rdhup |= (ops & (RDHUP | HUP)) != 0;
            }
            if ((ops & (OUT | ERR | HUP)) != 0) {
                side.outReady = true;
            }
            if (side == up && !up.ready) {
                if (up.outReady) {
                    finishConnect();
                }
            }
            pump();
            // An error on a socket no read will meet (its FIN came before, so the hello is read too):
            // found here, or never. Else the reads find it, after the bytes that came before it. One
            // branch on purpose (& and ^, no &&): the JIT has a profile for the whole condition, where
            // a branch per part would have none for a part a warm-up never varies.
            if ((ops & ERR) != 0 && side.eof & (side.broken ^ true) & (closed ^ true)) {
                int err = RawSocket.finishConnect(side.intValue()); // SO_ERROR
                if (err < 0) {
                    failed(side, "socket", err);
                }
            }
        } catch (RuntimeException e) {
            debug("failed: {}", e.toString());
            close();
        }
    }

    /** Everything that can move now: the hello, then each direction (what waits, then what is to read); then {@link #settle()}. */
    private void pump() {
        if (!closed && reader != null && down.inReady) {
            readHello();
        }
        if (!closed && toUp != null) {
            toUp.pump();
        }
        if (!closed && toDown != null) {
            toDown.pump();
        }
        settle();
    }

    boolean closed() {
        return closed;
    }

    /** Reads the hello's bytes until it is complete or refused, or the socket is drained. */
    private void readHello() {
        while (!closed && reader != null && down.inReady) {
            ByteBuf buf = hello != null ? hello : DirectPassthrough.scratch().clear();
            if (hello != null && hello.writableBytes() < 1024) {
                hello.ensureWritable(4096);
            }
            int room = buf.capacity() - buf.writerIndex();
            int n = RawSocket.recv(down.intValue(), buf.memoryAddress(), buf.writerIndex(), buf.capacity());
            if (n <= 0) {
                if (n == 0) {
                    close(); // end of stream before the hello was complete: bad_hello
                } else if (RawSocket.again(n)) {
                    down.inReady = false;
                } else {
                    failed(down, "recv", n);
                }
                return;
            }
            if (n < room && !down.rdhup) {
                down.inReady = false; // drained, as far as one read tells (after a FIN, read on to it)
            }
            buf.writerIndex(buf.writerIndex() + n);
            switch (reader.read(buf)) {
                case NEED_MORE -> {
                    if (hello == null) {
                        hello = ByteBufAllocator.DEFAULT.directBuffer(Math.max(2048, n * 2)).writeBytes(buf);
                    }
                }
                case REFUSED -> refuse(Outcome.BAD_HELLO);
                case COMPLETE -> helloComplete(buf);
            }
        }
    }

    private void helloTimedOut() {
        helloTimeout = null;
        if (!closed && reader != null) {
            guarded(() -> refuse(Outcome.TIMEOUT));
        }
    }

    /** Runs {@code action} from a loop-wide sweep (deadlines, idle checks): whatever happens, the sweep goes on. */
    private void guarded(Runnable action) {
        try {
            action.run();
        } catch (RuntimeException e) {
            debug("failed: {}", e.toString());
            close();
        }
    }

    private void helloComplete(ByteBuf buf) {
        cancelHelloTimeout();
        serverName = reader.serverName();
        reader = null;
        if (serverName == null) {
            refuse(Outcome.NO_SNI);
            return;
        }
        Resolution resolution = listener.resolve(serverName);
        route = Route.of(resolution);
        if (route == null) {
            String code = resolution instanceof Resolution.Refused refused ? refused.error().code() : "no-route";
            metrics.routeRefusals().refused(context.name(), peer(), serverName, null, Outcome.NO_ROUTE.label(), code);
            refuse(Outcome.NO_ROUTE);
            return;
        }
        ByteBuf first = hello != null ? hello : ByteBufAllocator.DEFAULT.directBuffer(buf.readableBytes()).writeBytes(buf);
        hello = null;
        // The client is read on while the upstream connects (a TLS client waits for the ServerHello, so
        // usually nothing comes): what does come waits behind the hello, up to the bound.
        toUp = new Direction(this, down, null, metrics.bytesToUpstream(), metrics.splicedToUpstream(), listener.spliceAt, first);
        target = context.upstreams().pick(route);
        dialLater();
    }

    /**
     * Connect attempts run as tasks of the loop, never inside its epoll batch: a socket made there
     * could get the number of a descriptor closed earlier in the batch, and that one's stale events
     * would then reach the connecting socket (see {@code EndpointDialer}).
     */
    private void dialLater() {
        try {
            loop.execute(this::attempt);
        } catch (RejectedExecutionException e) {
            close(); // the loop shuts down
        }
    }

    private void attempt() {
        if (closed) {
            return;
        }
        try {
            Endpoint candidate = target.endpoint(tried);
            tried++;
            InetSocketAddress address = candidate.socketAddress();
            InetAddress ip = address.getAddress();
            if (ip == null) {
                attemptFailed("unresolved address " + address);
                return;
            }
            boolean ipv6 = ip instanceof Inet6Address;
            int fd = RawSocket.newStream(ipv6);
            if (fd < 0) {
                attemptFailed(RawSocket.describe("socket", fd));
                return;
            }
            up = new Side(fd, this, false);
            toUp.to = up;
            try {
                // As the channel path: TCP_NODELAY (every Netty transport's default) and SO_KEEPALIVE.
                RawSocket.setTcpNoDelay(fd);
                RawSocket.setKeepAlive(fd);
            } catch (IOException e) {
                attemptFailed(e.getMessage());
                return;
            }
            if (!register(up)) { // before any byte is sent: a failed try must not have taken part of the hello
                attemptFailed("not registered");
                return;
            }
            connectStart = System.nanoTime();
            byte[] native16 = ipv6 ? ip.getAddress() : NativeInetAddress.ipv4MappedIpv6Address(ip.getAddress());
            int res = RawSocket.connect(fd, ipv6, native16, ipv6 ? ((Inet6Address) ip).getScopeId() : 0, address.getPort());
            if (res == RawSocket.EINPROGRESS) {
                // Send the hello at once: a connect to an endpoint on this host (loopback, a pod's veth)
                // has usually completed inside connect(), and then the hello goes out now, and the socket
                // is watched for reads only, with no pass through the loop for its EPOLLOUT. Still
                // connecting, the send says EAGAIN (one system call); refused, it says so.
                int early = toUp.sendBeforeConnected();
                if (early >= 0) {
                    res = 0;
                } else if (!RawSocket.again(early)) {
                    attemptFailed(RawSocket.describe("connect", early));
                    return;
                }
            }
            if (res >= 0) {
                up.connectedAtOnce();
                connected();
            } else if (res == RawSocket.EINPROGRESS) {
                long nanos = listener.connectTimeoutNanos;
                if (nanos > 0) {
                    Side attempt = up;
                    connectTimeout = LoopDeadlines.start(loop, nanos, () -> connectTimedOut(attempt));
                }
            } else {
                attemptFailed(RawSocket.describe("connect", res));
                return;
            }
            pump();
        } catch (RuntimeException e) {
            debug("failed: {}", e.toString());
            close();
        }
    }

    private void connectTimedOut(Side attempt) {
        connectTimeout = null;
        if (!closed && up == attempt && !attempt.ready) {
            guarded(() -> attemptFailed("connection timed out after " + TimeUnit.NANOSECONDS.toMillis(listener.connectTimeoutNanos) + " ms"));
        }
    }

    private void finishConnect() {
        int res = RawSocket.finishConnect(up.intValue());
        if (res < 0) {
            attemptFailed(RawSocket.describe("connect", res));
        } else {
            connected();
        }
    }

    /** One try failed: counted, its socket closed; the next candidate is tried, or the connection fails. */
    private void attemptFailed(String why) {
        cancelConnectTimeout();
        metrics.upstreamConnectFailed();
        if (log.isDebugEnabled()) {
            debug("connecting to {} failed (attempt {} of {}): {}", target.endpoint(tried - 1), tried, target.attempts(), why);
        }
        if (up != null) {
            up.shut();
            up = null;
            toUp.to = null;
        }
        if (tried < target.attempts()) {
            dialLater();
        } else {
            refuse(Outcome.UPSTREAM_FAILED);
        }
    }

    private void connected() {
        cancelConnectTimeout();
        up.ready = true;
        connected = true;
        endpoint = target.endpoint(tried - 1);
        cluster = target.cluster(tried - 1);
        metrics.upstreamConnected(System.nanoTime() - connectStart);
        metrics.upstreamConnection(cluster);
        context.upstreams().picker().connected(endpoint);
        outcome(Outcome.ROUTED);
        toDown = new Direction(this, up, down, metrics.bytesToDownstream(), metrics.splicedToDownstream(), listener.spliceAt, null);
        if (!context.limits().idleTimeout().isZero()) {
            idle = new IdleTimeout(this, context.limits().idleTimeout());
            idle.watch(loop);
        }
        toUp.flush(); // the hello, what came after it, and the client's FIN if it came
    }

    /** A send moved bytes (for the idle timeout). */
    void touch() {
        if (idle != null) {
            idle.touch();
        }
    }

    /**
     * Passes a FIN on: {@code to}'s output is shut down. When this finishes the connection (the other
     * way finished already), the close that follows at once sends the FIN: no {@code shutdown}.
     */
    void shutOutput(Side to) {
        to.shutOut = true;
        if (to.eof && (to == up ? down : up).shutOut) {
            return;
        }
        int res = RawSocket.shutdownOutput(to.intValue());
        if (res < 0) {
            failed(to, "shutdown", res);
        }
    }

    /** A system call on {@code side} failed ({@code res}: -errno): a reset or another socket error closes both sides. */
    void failed(Side side, String call, int res) {
        debugFailure(side, call, res);
        close();
    }

    /** Logs (debug) why a call on {@code side} failed, without closing: the caller decides. */
    void debugFailure(Side side, String call, int res) {
        if (log.isDebugEnabled()) {
            debugSide(side, RawSocket.describe(call, res));
        }
    }

    void failed(Side side, String why) {
        debugSide(side, why);
        close();
    }

    private void debugSide(Side side, String why) {
        debug("{} side: {}", side == down ? "downstream" : "upstream", why);
    }

    /**
     * After an event or a task: closes when both directions finished; else, when a direction stopped
     * at its reads-per-turn bound with bytes left (no edge will come for them), reads on in a task of
     * the loop, after the other connections' events.
     */
    private void settle() {
        if (closed) {
            return;
        }
        if (toDown != null && toUp.finished() && toDown.finished()) {
            close();
            return;
        }
        if (!resumeQueued && (toUp != null && toUp.more() || toDown != null && toDown.more())) {
            if (resume == null) {
                resume = this::resumed;
            }
            resumeQueued = true;
            try {
                loop.execute(resume);
            } catch (RejectedExecutionException e) {
                close(); // the loop shuts down
            }
        }
    }

    private void resumed() {
        resumeQueued = false;
        if (!closed) {
            guarded(this::pump);
        }
    }

    /** The idle timeout passed: nothing moved either way. */
    @Override
    public void idle() {
        guarded(() -> {
            debug("idle for {}: closing", context.limits().idleTimeout());
            close();
        });
    }

    /** Records why it closes and closes it, nothing forwarded (for refusals). */
    private void refuse(Outcome o) {
        if (log.isDebugEnabled()) {
            o.logRefusal(log, context.name(), peer(), serverName);
        }
        outcome(o);
        close();
    }

    private void outcome(Outcome o) {
        if (outcome == null) {
            outcome = o;
            metrics.outcome(o);
        }
    }

    /**
     * Closes both sockets (descriptor first, then the registration), frees what waits, counts the
     * connection closed and writes its access log entry. Any thread's call but its loop's is a bug.
     */
    void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            cancelHelloTimeout();
            cancelConnectTimeout();
            if (idle != null) {
                idle.stop();
            }
            if (outcome == null) { // as the channel path: by how far it got
                outcome(serverName == null ? Outcome.BAD_HELLO : route == null ? Outcome.NO_ROUTE : Outcome.UPSTREAM_FAILED);
            }
            if (hello != null) {
                hello.release();
                hello = null;
            }
            if (toUp != null) {
                toUp.release();
            }
            if (toDown != null) {
                toDown.release();
            }
            down.shut();
            if (up != null) {
                up.shut();
            }
            if (connected) {
                context.upstreams().picker().disconnected(endpoint);
            }
        } finally {
            open.remove(this);
            metrics.active().decrementAndGet();
        }
        if (context.accessLog().enabled()) {
            context.accessLog().log(accessLogEntry());
        }
    }

    /** As the channel path's entry: the cluster it went to, else the route's source; bytes sent each way (-1 up: never connected). */
    private AccessLogEntry accessLogEntry() {
        String destination = endpoint != null ? cluster : route == null ? null : route.source();
        return new AccessLogEntry(System.currentTimeMillis(), context.name(), peer(), serverName, destination, endpoint,
                null, connected ? toUp.sent : -1, toDown == null ? 0 : toDown.sent, System.nanoTime() - acceptedNanos,
                outcome.label());
    }

    private void cancelHelloTimeout() {
        if (helloTimeout != null) {
            helloTimeout.cancel();
            helloTimeout = null;
        }
    }

    private void cancelConnectTimeout() {
        if (connectTimeout != null) {
            connectTimeout.cancel();
            connectTimeout = null;
        }
    }

    /** The client's address, decoded from accept's bytes. */
    InetSocketAddress peer() {
        return DirectPassthrough.peer(peerAddress);
    }

    private void debug(String format, Object... args) {
        if (log.isDebugEnabled()) {
            Object[] all = new Object[args.length + 2];
            all[0] = context.name();
            all[1] = peer();
            System.arraycopy(args, 0, all, 2, args.length);
            log.debug("listener={} peer={}: " + format, all);
        }
    }

    static void closeQuietly(FileDescriptor fd) {
        try {
            fd.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
