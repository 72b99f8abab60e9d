package io.meshgate.gateway.warmup;

import io.meshgate.gateway.listener.Listener;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the gateway's start does right after the warm-up, rehearsed while the warm-up runs: a
 * listener bound and closed again from a plain thread (the start binds its listeners, and closes
 * the warm-up's, from the thread that runs it, no event loop) and its first accept (a TCP check
 * that connects and closes), and a readiness probe to the admin server (as a kubelet sends one).
 *
 * <p>The JIT compiles the connection path for what its profile has seen. Netty code that connections
 * share with server channels and with callers outside the event loops (channel close and
 * registration, promises, {@code InternalThreadLocalMap}) was compiled by the warm-up for accepted
 * and upstream sockets on event-loop threads only; the start's first server channel or outside
 * call then met that code and threw it away (uncommon traps, "made not entrant"), and the first
 * real connections ran interpreted while C2 compiled it all again. Rehearsed from the warm-up's
 * first connections on, these cases are in the profile before C2 compiles, and compiled code that
 * still meets one is recompiled during the warm-up, not under the first real traffic.
 */
public final class StartRehearsal implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(StartRehearsal.class);
    /** Pause between two rehearsals: tens a second, a few percent of the warm-up's work. */
    static final long PAUSE_MILLIS = 20;
    private static final int PROBE_TIMEOUT_MILLIS = 10_000;

    private final Listener listener;
    private final EventLoopGroup group;
    private final InetSocketAddress admin;
    private final Thread thread;
    private volatile boolean stopped;
    private volatile int rehearsals;

    private StartRehearsal(Listener listener, EventLoopGroup group, InetSocketAddress admin) {
        this.listener = listener;
        this.group = group;
        this.admin = admin;
        this.thread = new Thread(this::run, "meshgate-warmup-start");
        this.thread.setDaemon(true);
    }

    /**
     * Starts rehearsing on a thread of its own until {@link #close()}: binds {@code listener} (a
     * listener of the real kind on 127.0.0.1 port 0; it accepts nothing meanwhile) on {@code group}
     * and closes it, then probes {@code /readyz} on {@code admin} (null: no admin server).
     */
    public static StartRehearsal start(Listener listener, EventLoopGroup group, InetSocketAddress admin) {
        if (admin != null && admin.getAddress() != null && admin.getAddress().isAnyLocalAddress()) {
            admin = new InetSocketAddress(InetAddress.getLoopbackAddress(), admin.getPort());
        }
        StartRehearsal r = new StartRehearsal(listener, group, admin);
        r.thread.start();
        return r;
    }

    /** Rehearsals completed so far. */
    public int rehearsals() {
        return rehearsals;
    }

    private void run() {
        try {
            while (!stopped) {
                rehearse();
                rehearsals++;
                TimeUnit.MILLISECONDS.sleep(PAUSE_MILLIS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) { // only an optimisation: the warm-up goes on without it
            log.info("warm-up: start rehearsal stopped: {}", e.toString());
        } finally {
            listener.stopAccepting();
            listener.closeConnections();
        }
    }

    private void rehearse() throws InterruptedException {
        listener.bind(group);
        try (Socket s = new Socket()) {
            // The first accept on a server channel, as a load balancer's or kubelet's TCP check makes
            // one: connects and closes without a byte (a bad_hello in the throwaway metrics). Waiting
            // for the gateway's close makes sure it was accepted before the listener closes.
            s.connect(listener.localAddress(), PROBE_TIMEOUT_MILLIS);
            s.setSoTimeout(PROBE_TIMEOUT_MILLIS);
            s.shutdownOutput();
            s.getInputStream().read();
        } catch (IOException e) {
            log.debug("warm-up: connection to the rehearsal listener: {}", e.toString());
        }
        listener.stopAccepting();
        if (admin != null) {
            try {
                probe(admin);
            } catch (IOException e) { // a cold JVM on a starved core answers slowly: the next one may do
                log.debug("warm-up: admin probe: {}", e.toString());
            }
        }
    }

    /** {@code GET /readyz} as a kubelet sends it ({@code Connection: close}); the answer is read to the server's close. */
    static void probe(InetSocketAddress admin) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(admin, PROBE_TIMEOUT_MILLIS);
            s.setSoTimeout(PROBE_TIMEOUT_MILLIS);
            s.getOutputStream().write(("GET /readyz HTTP/1.1\r\nHost: " + admin.getHostString() + ":" + admin.getPort()
                    + "\r\nUser-Agent: meshgate-warmup\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            byte[] buf = new byte[512];
            while (in.read(buf) >= 0) {
                // the status does not matter: /readyz is 503 until the listeners are bound
            }
        }
    }

    /** Stops rehearsing and waits for the one in progress (bounded); nothing it bound stays open. */
    @Override
    public void close() throws InterruptedException {
        stopped = true;
        thread.join(TimeUnit.SECONDS.toMillis(10));
        if (thread.isAlive()) {
            log.warn("warm-up: start rehearsal still running after 10 s; going on without it");
        }
    }
}
