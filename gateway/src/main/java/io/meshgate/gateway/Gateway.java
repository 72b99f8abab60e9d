package io.meshgate.gateway;

import io.meshgate.gateway.accesslog.AccessLog;
import io.meshgate.gateway.accesslog.AccessLogWriter;
import io.meshgate.gateway.admin.AdminServer;
import io.meshgate.gateway.admin.AdminView;
import io.meshgate.gateway.config.ConfigBinder;
import io.meshgate.gateway.config.GatewaySpec;
import io.meshgate.gateway.config.GatewaySpec.ListenerSpec;
import io.meshgate.gateway.config.MeshgateConfig;
import io.meshgate.gateway.discovery.Discovery;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.metrics.GatewayMetrics;
import io.meshgate.gateway.warmup.StartRehearsal;
import io.meshgate.gateway.warmup.Warmup;
import io.meshgate.routing.Router;
import io.meshgate.tls.TlsMaterialSource;
import io.netty.channel.EventLoopGroup;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running gateway's lifecycle: starts what the {@link Assembly} builds from a
 * {@link GatewaySpec} (discovery and its router, TLS material, event loops, listeners, admin
 * server), reports readiness, drains on shutdown and closes. The admin server sees it only as an
 * {@link AdminView}.
 */
public final class Gateway implements AutoCloseable, AdminView {

    private static final Logger log = LoggerFactory.getLogger(Gateway.class);

    private final GatewaySpec spec;
    private final GatewayMetrics metrics = new GatewayMetrics();
    private final Assembly assembly;
    private final Discovery discovery;
    private final Optional<TlsMaterialSource> tls;
    private final List<Listener> listeners = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private EventLoopGroup workers;
    private AccessLog accessLog = AccessLog.OFF;
    private volatile AdminServer admin; // set once it is bound, before the warm-up
    private volatile boolean draining;
    private volatile boolean started;
    /** A drain (SIGTERM) came before the start ended: the start stops at its next step and binds nothing. */
    private volatile boolean stopRequested;
    /** Counted down when {@link #start} returns or throws; a drain during the start waits for it. */
    private final CountDownLatch startEnded = new CountDownLatch(1);
    private volatile boolean starting;
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    /** A gateway for a config file as {@code meshgate run} loads it ({@code file}: where relative paths start). */
    public Gateway(MeshgateConfig config, Path file) {
        this(ConfigBinder.bind(config, file));
    }

    /**
     * Connects discovery's local clusters and loads the TLS files now: a broken kubeconfig or
     * certificate stops the start with a message naming it (exit 2), before anything binds.
     */
    public Gateway(GatewaySpec spec) {
        this.spec = spec;
        this.assembly = new Assembly(spec, metrics.registry());
        this.discovery = new Discovery(spec.discovery(), spec.clusterDomain(), metrics.registry());
        try {
            this.tls = assembly.loadTls();
        } catch (RuntimeException e) {
            discovery.close(); // nothing half-built stays behind
            metrics.close();
            throw e;
        }
    }

    /**
     * Binds every listener and the admin server; throws if an address is taken. A {@link #drain}
     * while this runs (a pod deleted during its start) ends the warm-up at once and binds no listener.
     */
    public Gateway start() throws InterruptedException {
        starting = true;
        try {
            return startUnlessStopped();
        } finally {
            startEnded.countDown();
        }
    }

    private Gateway startUnlessStopped() throws InterruptedException {
        if (stopRequested) {
            return this;
        }
        if (tls.isPresent()) {
            try {
                tls.get().start();
            } catch (java.io.IOException e) {
                throw new IllegalStateException("cannot watch the tls files: " + e.getMessage(), e);
            }
            closeables.add(tls.get());
        }
        closeables.add(discovery);
        spec.federation().ifPresent(f -> discovery.federate(f, tls)); // trust.federation: roots from every cluster
        discovery.start(); // watches run in the background; /readyz waits for the local caches' sync
        int threads = spec.runtime().workers();
        workers = assembly.transport().newGroup(threads, "meshgate-worker");
        // Before the warm-up (/readyz answers 503 until the listeners are bound), on the data path's
        // transport: what the warm-up compiles then already knows the admin server's channels.
        AdminServer server = new AdminServer(this, spec.adminAddress(), assembly.transport().newGroup(1, "meshgate-admin"),
                assembly.transport().serverChannel());
        try {
            server.start();
        } catch (Exception e) { // address taken (Netty throws it sneakily): its event loop goes too
            server.close();
            throw e;
        }
        admin = server;
        if (assembly.warmsUpPassthrough() || assembly.warmsUpTerminate()) {
            // What the start does after the warm-up (bind from this thread, a probe) is rehearsed meanwhile.
            StartRehearsal rehearsal = StartRehearsal.start(assembly.warmupListener(router()), workers, admin.localAddress());
            try {
                if (assembly.warmsUpPassthrough()) {
                    warmUp("", () -> Warmup.run(workers, assembly.transport(), spec.runtime().warmup(),
                            routes -> assembly.warmupListener(Assembly.behindGatewaySources(router(), routes)),
                            () -> stopRequested));
                }
                if (assembly.warmsUpTerminate() && !stopRequested) {
                    warmUp(Warmup.TERMINATE, () -> Warmup.runTerminate(workers, assembly.transport(), spec.runtime().warmup(),
                            spec.tls().orElseThrow().upstream(), (routes, material) -> assembly.terminateWarmupListener(
                                    Assembly.behindGatewaySources(router(), routes), material), () -> stopRequested));
                }
            } finally {
                rehearsal.close();
            }
        }
        if (stopRequested) {
            log.info("start-up ended by a signal before the listeners were bound");
            return this;
        }
        accessLog = assembly.openAccessLog();
        for (ListenerSpec l : spec.listeners()) {
            Listener listener = assembly.listener(l, router(), tls, accessLog);
            listener.bind(workers);
            listeners.add(listener);
            log.info("listener {} ({}) on {}", l.name(), l.mode().label(), listener.localAddress());
        }
        started = true;
        log.info("meshgate ready: {} listener(s), transport {}, relay {}, {} worker(s), admin on {}",
                listeners.size(), assembly.transport().describe(), assembly.relay().name(), threads, admin.localAddress());
        return this;
    }

    /** One warm-up; a failure only costs its benefit (no loopback?): the gateway still serves, just cold at first. */
    private static void warmUp(String label, WarmupRun run) throws InterruptedException {
        try {
            run.run();
        } catch (InterruptedException e) {
            throw e;
        } catch (Exception e) { // Netty rethrows bind failures unchecked or sneakily
            log.warn("warm-up{} skipped: {}", label, e.toString());
        }
    }

    @FunctionalInterface
    private interface WarmupRun {
        Warmup.Result run() throws Exception;
    }

    @Override
    public boolean ready() {
        return started && !draining && listeners.stream().allMatch(Listener::bound) && router().synced();
    }

    @Override
    public boolean draining() {
        return draining;
    }

    @Override
    public Optional<Object> trustView() {
        return tls.map(TlsMaterialSource::trustView);
    }

    @Override
    public Optional<Object> spiffeBundle() {
        return tls.map(TlsMaterialSource::spiffeBundle);
    }

    @Override
    public String scrape() {
        return metrics.scrape();
    }

    /** The gateway's identity and trust bundle, hot-reloaded; empty when {@code tls:} is absent. */
    public Optional<TlsMaterialSource> tls() {
        return tls;
    }

    @Override
    public Router router() {
        return discovery.router();
    }

    public GatewayMetrics metrics() {
        return metrics;
    }

    public GatewaySpec spec() {
        return spec;
    }

    public List<Listener> listeners() {
        return List.copyOf(listeners);
    }

    public AdminServer admin() {
        return admin;
    }

    /**
     * SIGTERM: {@code /readyz} turns 503, listeners stop accepting, open connections get up to
     * {@code timeouts.drain} to finish, then everything is closed.
     */
    public void drain() {
        draining = true;
        if (!started) {
            // A start in progress (warming up) stops at its next step; its event loops must outlive it.
            stopRequested = true;
            if (starting) {
                try {
                    if (!startEnded.await(spec.runtime().warmup().max().toSeconds() + 30, TimeUnit.SECONDS)) {
                        log.warn("the start did not end after the signal; closing anyway");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
        Duration timeout = spec.timeouts().drain();
        listeners.forEach(Listener::stopAccepting);
        listeners.forEach(Listener::announceDrain); // h2: GOAWAY now, so clients move on while streams finish
        long deadline = System.nanoTime() + timeout.toNanos();
        int open;
        while ((open = openConnections()) > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (open > 0) {
            log.warn("drain timeout {} reached with {} connection(s) open; closing them", timeout, open);
        } else {
            log.info("drained: no connection open");
        }
        close();
    }

    public int openConnections() {
        return listeners.stream().mapToInt(Listener::openConnections).sum();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return; // closed already (a drain ends in close)
        }
        draining = true;
        listeners.forEach(Listener::stopAccepting);
        listeners.forEach(Listener::closeConnections);
        for (AutoCloseable c : closeables) {
            try {
                c.close();
            } catch (Exception e) {
                log.warn("closing {}: {}", c, e.toString());
            }
        }
        discovery.close(); // also when start() never ran: the local clusters were connected in the constructor
        if (admin != null) {
            admin.close();
        }
        if (workers != null) {
            workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        if (accessLog instanceof AccessLogWriter writer) {
            writer.close(); // after the event loops: the last connections' lines are written too
        }
        metrics.close();
    }
}
