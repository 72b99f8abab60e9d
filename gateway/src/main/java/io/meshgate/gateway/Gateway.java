package io.meshgate.gateway;

import io.meshgate.gateway.accesslog.AccessLog;
import io.meshgate.gateway.accesslog.AccessLogWriter;
import io.meshgate.gateway.admin.AdminServer;
import io.meshgate.gateway.admin.AdminView;
import io.meshgate.gateway.config.ConfigBinder;
import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.GatewaySpec;
import io.meshgate.gateway.config.GatewaySpec.ListenerMode;
import io.meshgate.gateway.config.GatewaySpec.ListenerSpec;
import io.meshgate.gateway.config.GatewaySpec.TlsSpec;
import io.meshgate.gateway.config.MeshgateConfig;
import io.meshgate.gateway.discovery.Discovery;
import io.meshgate.gateway.listener.DownstreamPipeline;
import io.meshgate.gateway.h2.Http2Limits;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.listener.PassthroughPipeline;
import io.meshgate.gateway.metrics.GatewayMetrics;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.relay.AutoSpliceRelay;
import io.meshgate.gateway.relay.CopyRelay;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.gateway.relay.SpliceRelay;
import io.meshgate.gateway.terminate.HandshakeMetrics;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.terminate.TerminatePipeline;
import io.meshgate.gateway.terminate.Termination;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.meshgate.gateway.upstream.EndpointPicker;
import io.meshgate.gateway.warmup.Warmup;
import io.meshgate.routing.Router;
import io.meshgate.tls.TlsMaterialException;
import io.meshgate.tls.TlsMaterialSource;
import io.netty.channel.EventLoopGroup;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running gateway: builds what a {@link GatewaySpec} describes (discovery and its router,
 * TLS material, event loops, listeners, admin server), starts it, reports readiness, and drains
 * it on shutdown. The admin server sees it only as an {@link AdminView}.
 */
public final class Gateway implements AutoCloseable, AdminView {

    private static final Logger log = LoggerFactory.getLogger(Gateway.class);

    private final GatewaySpec spec;
    private final GatewayMetrics metrics = new GatewayMetrics();
    private final Transport transport;
    private final Discovery discovery;
    private final Optional<TlsMaterialSource> tls;
    private final List<Listener> listeners = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private EventLoopGroup workers;
    private AccessLog accessLog = AccessLog.OFF;
    private AdminServer admin;
    private volatile boolean draining;
    private volatile boolean started;

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
        this.transport = Transport.select(spec.runtime().transport(), spec.runtime().busyPoll());
        this.discovery = new Discovery(spec.discovery(), spec.clusterDomain(), metrics.registry());
        try {
            this.tls = spec.tls().map(this::loadTls);
        } catch (RuntimeException e) {
            discovery.close(); // nothing half-built stays behind
            metrics.close();
            throw e;
        }
    }

    private TlsMaterialSource loadTls(TlsSpec t) {
        try {
            return new TlsMaterialSource(t.files(), t.allowedTrustDomains(), metrics.registry());
        } catch (TlsMaterialException e) {
            throw new ConfigException("tls: " + e.getMessage(), e);
        }
    }

    /** Binds every listener and the admin server; throws if an address is taken. */
    public Gateway start() throws InterruptedException {
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
        workers = transport.newGroup(threads, "meshgate-worker");
        Relay relay = relay();
        Duration warmup = spec.runtime().warmup();
        if (!warmup.isZero() && spec.listeners().stream().anyMatch(l -> l.mode() != ListenerMode.TERMINATE)) {
            try {
                Warmup.run(workers, transport, relay, warmup);
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) { // Netty rethrows bind failures unchecked or sneakily
                // Only an optimisation: a gateway that cannot warm up (no loopback?) still serves, just cold at first.
                log.warn("warm-up skipped: {}", e.toString());
            }
        }
        accessLog = openAccessLog();
        EndpointPicker picker = new EndpointPicker(spec.balancing().policy());
        for (ListenerSpec l : spec.listeners()) {
            Listener listener = new Listener(context(l, picker, relay), l.address(), pipeline(l));
            listener.bind(workers);
            listeners.add(listener);
            log.info("listener {} ({}) on {}", l.name(), l.mode().label(), listener.localAddress());
        }
        admin = new AdminServer(this, spec.adminAddress());
        admin.start();
        started = true;
        log.info("meshgate ready: {} listener(s), transport {}, relay {}, {} worker(s), admin on {}",
                listeners.size(), transport.describe(), relay.name(), threads, admin.localAddress());
        return this;
    }

    private ListenerContext context(ListenerSpec l, EndpointPicker picker, Relay relay) {
        ListenerMetrics listenerMetrics = new ListenerMetrics(metrics.registry(), l.name());
        EndpointDialer dialer = new EndpointDialer(transport, picker, listenerMetrics,
                spec.balancing().connectAttempts(), spec.timeouts().connect());
        return new ListenerContext(l.name(), listenerMetrics,
                router(), picker, transport, relay, l.maxConnections(), spec.limits().clientHelloMaxBytes(),
                spec.balancing().connectAttempts(), spec.timeouts().clientHello(),
                spec.timeouts().connect(), spec.timeouts().idle(), dialer, spec.discovery().egressPolicy(), accessLog);
    }

    /** The listener's pipeline: the one place a mode is chosen. */
    private DownstreamPipeline pipeline(ListenerSpec l) {
        return switch (l.mode()) {
            case PASSTHROUGH -> PassthroughPipeline.passthrough();
            case EGRESS -> PassthroughPipeline.egress();
            case TERMINATE -> new TerminatePipeline(new Termination(l.name(), tls.orElseThrow(),
                    spec.tls().orElseThrow().upstream(), spec.timeouts().tlsHandshake(), spec.limits().upstreamPoolSize(),
                    metrics.registry(), Http2Limits.of(spec.http2(), spec.timeouts().drain())));
        };
    }

    /** {@code accessLog:}: off unless configured; the file is opened now so a bad path stops the start (exit 2). */
    private AccessLog openAccessLog() {
        if (spec.accessLog().isEmpty()) {
            return AccessLog.OFF;
        }
        GatewaySpec.AccessLogSpec c = spec.accessLog().get();
        try {
            return AccessLogWriter.open(c.file().orElse(null), c.queueSize(), metrics.registry());
        } catch (java.io.IOException e) {
            throw new ConfigException("accessLog.path: cannot open " + c.file().orElseThrow() + ": " + e.getMessage(), e);
        }
    }

    private Relay relay() {
        if (!transport.canSplice()) {
            return new CopyRelay();
        }
        return switch (spec.runtime().splice()) {
            case AUTO -> new AutoSpliceRelay(spec.runtime().spliceThreshold());
            case ALWAYS -> new SpliceRelay();
            case OFF -> new CopyRelay();
        };
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
