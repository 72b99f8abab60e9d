package io.meshgate.gateway;

import io.meshgate.gateway.admin.AdminServer;
import io.meshgate.gateway.config.MeshgateConfig;
import io.meshgate.gateway.h2.Http2Limits;
import io.meshgate.gateway.h2.Http2Termination;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.metrics.GatewayMetrics;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.relay.AutoSpliceRelay;
import io.meshgate.gateway.warmup.Warmup;
import io.meshgate.gateway.relay.CopyRelay;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.gateway.relay.SpliceRelay;
import io.meshgate.gateway.terminate.HandshakeMetrics;
import io.meshgate.gateway.terminate.Termination;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.meshgate.gateway.upstream.EndpointPicker;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.RouteSource;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.meshgate.routing.RemoteCluster;
import io.meshgate.routing.kubernetes.KubernetesCluster;
import io.meshgate.routing.kubernetes.RemoteClusters;
import io.meshgate.routing.kubernetes.RemoteSecrets;
import io.meshgate.tls.TlsFiles;
import io.meshgate.tls.TlsMaterialException;
import io.meshgate.tls.TlsMaterialSource;
import io.netty.channel.EventLoopGroup;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running gateway: builds everything a config describes (router and its sources, event
 * loops, listeners, admin server), starts it, and drains it on shutdown.
 */
public final class Gateway implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Gateway.class);

    private final MeshgateConfig config;
    private final Path configFile;
    private final GatewayMetrics metrics = new GatewayMetrics();
    private final Transport transport;
    private final Router router;
    private final List<Listener> listeners = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();
    private final List<KubernetesCluster> clusters = new ArrayList<>();
    private EventLoopGroup workers;
    private AdminServer admin;
    private final java.util.Optional<TlsMaterialSource> tls;
    private volatile boolean draining;
    private volatile boolean started;

    public Gateway(MeshgateConfig config, Path configFile) {
        this.config = config;
        this.configFile = configFile;
        this.transport = Transport.select(config.runtime().transport(), config.runtime().busyPollDuration());
        this.router = new Router(routeSources());
        try {
            this.tls = java.util.Optional.ofNullable(config.tls()).map(this::loadTls);
        } catch (RuntimeException e) {
            clusters.forEach(KubernetesCluster::close); // nothing half-built stays behind
            metrics.close();
            throw e;
        }
    }

    /** Loads the identity and bundle now: a broken file stops the start with a message naming it (exit 2). */
    private TlsMaterialSource loadTls(MeshgateConfig.Tls t) {
        TlsFiles files = new TlsFiles(MeshgateConfig.resolve(configFile, t.certificateChain()),
                MeshgateConfig.resolve(configFile, t.privateKey()), MeshgateConfig.resolve(configFile, t.trustBundle()));
        try {
            return new TlsMaterialSource(files, java.util.Set.copyOf(t.allowedTrustDomains()), metrics.registry());
        } catch (TlsMaterialException e) {
            throw new io.meshgate.gateway.config.ConfigException("tls: " + e.getMessage(), e);
        }
    }

    private List<RouteSource> routeSources() {
        List<RouteSource> sources = new ArrayList<>();
        List<StaticRoutes.StaticService> services = config.discovery().staticServices().stream()
                .map(s -> new StaticRoutes.StaticService(s.host(), s.port(),
                        s.endpoints().stream().map(Endpoint::parse).toList(),
                        AppProtocol.valueOf(s.protocol().toUpperCase(java.util.Locale.ROOT))))
                .toList();
        sources.add(new StaticRoutes(services));
        for (int i = 0; i < config.discovery().clusters().size(); i++) {
            MeshgateConfig.Cluster c = config.discovery().clusters().get(i);
            if (c.remote()) {
                continue; // opened in start(): remote clusters join the router at runtime
            }
            try {
                KubernetesCluster cluster = new KubernetesCluster(c.name(),
                        java.util.Optional.ofNullable(c.kubeconfig()).map(k -> MeshgateConfig.resolve(configFile, k)),
                        config.discovery().namespaces(), config.clusterDomain(), metrics.registry());
                clusters.add(cluster);
                sources.add(cluster);
            } catch (IllegalArgumentException e) {
                clusters.forEach(KubernetesCluster::close);
                throw new io.meshgate.gateway.config.ConfigException("discovery.clusters[" + i + "]: " + e.getMessage(), e);
            }
        }
        return sources;
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
        for (KubernetesCluster c : clusters) {
            closeables.add(c.start()); // watches run in the background; /readyz waits for their sync
        }
        openRemoteClusters();
        int threads = config.runtime().effectiveWorkers();
        workers = transport.newGroup(threads, "meshgate-worker");
        Relay relay = relay();
        java.time.Duration warmup = config.runtime().warmupDuration();
        if (!warmup.isZero() && config.listeners().stream().anyMatch(l -> l.mode() != MeshgateConfig.ListenerMode.TERMINATE)) {
            try {
                Warmup.run(workers, transport, relay, warmup);
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) { // Netty rethrows bind failures unchecked or sneakily
                // Only an optimisation: a gateway that cannot warm up (no loopback?) still serves, just cold at first.
                log.warn("warm-up skipped: {}", e.toString());
            }
        }
        EndpointPicker picker = new EndpointPicker(config.loadBalancing().policy());
        for (MeshgateConfig.Listener l : config.listeners()) {
            ListenerMetrics listenerMetrics = new ListenerMetrics(metrics.registry(), l.name());
            EndpointDialer dialer = new EndpointDialer(transport, picker, listenerMetrics,
                    config.loadBalancing().connectAttempts(), config.timeouts().connectDuration());
            Termination termination = l.mode() == MeshgateConfig.ListenerMode.TERMINATE
                    ? new Termination(tls.orElseThrow(), config.tls().upstream(), config.timeouts().tlsHandshakeDuration(),
                            config.limits().upstreamPoolSize(), new HandshakeMetrics(metrics.registry(), l.name()),
                            new Http2Termination(Http2Limits.of(config.http2(), config.timeouts().drainDuration()),
                                    metrics.registry(), l.name()))
                    : null;
            ListenerContext ctx = new ListenerContext(l.name(), l.mode(), listenerMetrics,
                    router, picker, transport, relay, l.maxConnections(), config.limits().clientHelloMaxBytes(),
                    config.loadBalancing().connectAttempts(), config.timeouts().clientHelloDuration(),
                    config.timeouts().connectDuration(), config.timeouts().idleDuration(), dialer, termination,
                    config.discovery().egressPolicy() == MeshgateConfig.EgressPolicy.SPREAD
                            ? Router.EgressPolicy.SPREAD : Router.EgressPolicy.LOCAL_FIRST);
            Listener listener = new Listener(ctx, l.hostPort());
            listener.bind(workers);
            listeners.add(listener);
            log.info("listener {} ({}) on {}", l.name(), l.mode().name().toLowerCase(java.util.Locale.ROOT), listener.localAddress());
        }
        admin = new AdminServer(this, config.admin().hostPort());
        admin.start();
        started = true;
        log.info("meshgate ready: {} listener(s), transport {}, relay {}, {} worker(s), admin on {}",
                listeners.size(), transport.describe(), relay.name(), threads, admin.localAddress());
        return this;
    }

    /**
     * Remote clusters from the config, and the Secret watcher that adds more at runtime. They never
     * hold readiness back: an unreachable remote only shows in its metrics and /debug/routes.
     */
    private void openRemoteClusters() {
        for (int i = 0; i < config.discovery().clusters().size(); i++) {
            MeshgateConfig.Cluster c = config.discovery().clusters().get(i);
            if (!c.remote()) {
                continue;
            }
            Path kubeconfig = MeshgateConfig.resolve(configFile, c.kubeconfig());
            String content;
            try {
                content = java.nio.file.Files.readString(kubeconfig);
            } catch (java.io.IOException e) {
                throw new io.meshgate.gateway.config.ConfigException("discovery.clusters[" + i + "].kubeconfig: cannot read "
                        + kubeconfig + ": " + e.getMessage(), e);
            }
            RemoteCluster remote;
            try {
                remote = RemoteClusters.open(c.name(), RemoteClusters.kubeconfig(content, kubeconfig.toString()),
                        java.util.Optional.ofNullable(c.gateway()).map(Endpoint::parse), c.gatewayService(),
                        config.clusterDomain(), metrics.registry());
            } catch (IllegalArgumentException e) {
                throw new io.meshgate.gateway.config.ConfigException("discovery.clusters[" + i + "]: " + e.getMessage(), e);
            }
            router.addSource(remote);
            closeables.add(remote);
        }
        MeshgateConfig.RemoteSecrets secrets = config.discovery().remoteSecrets();
        if (secrets != null) {
            KubernetesCluster local = clusters.get(0);
            closeables.add(new RemoteSecrets(local.client(), secrets.namespace(), router, config.clusterDomain(),
                    metrics.registry()).start());
        }
    }

    private Relay relay() {
        if (!transport.canSplice()) {
            return new CopyRelay();
        }
        return switch (config.runtime().splice()) {
            case AUTO -> new AutoSpliceRelay(config.runtime().spliceThreshold());
            case ALWAYS -> new SpliceRelay();
            case OFF -> new CopyRelay();
        };
    }

    /** Ready: every listener bound, every route source synced, not draining. */
    public boolean ready() {
        return started && !draining && listeners.stream().allMatch(Listener::bound) && router.synced();
    }

    public boolean draining() {
        return draining;
    }

    /** What {@code /debug/trust} shows; empty when no TLS is configured. */
    public java.util.Optional<Object> trustView() {
        return tls.map(TlsMaterialSource::trustView);
    }

    /** The gateway's identity and trust bundle, hot-reloaded; empty when {@code tls:} is absent. */
    public java.util.Optional<TlsMaterialSource> tls() {
        return tls;
    }

    public Router router() {
        return router;
    }

    public GatewayMetrics metrics() {
        return metrics;
    }

    public MeshgateConfig config() {
        return config;
    }

    public Path configFile() {
        return configFile;
    }

    public List<Listener> listeners() {
        return List.copyOf(listeners);
    }

    public AdminServer admin() {
        return admin;
    }

    /** Registers something to close on shutdown (discovery, TLS watchers). */
    public void closeOnShutdown(AutoCloseable c) {
        closeables.add(c);
    }

    /**
     * The CONTRACT's SIGTERM sequence: /readyz turns 503, listeners stop accepting, open
     * connections get up to {@code timeouts.drain} to finish, then everything is closed.
     */
    public void drain() {
        draining = true;
        Duration timeout = config.timeouts().drainDuration();
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
        if (admin != null) {
            admin.close();
        }
        if (workers != null) {
            workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
        metrics.close();
    }
}
