package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.AnyNamespaceOperation;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import io.meshgate.routing.RouteSource;
import io.meshgate.routing.RouteTable;
import io.meshgate.routing.ServiceHost;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Kubernetes cluster as a route source: informers on Services and {@code discovery.k8s.io/v1}
 * EndpointSlices feed a {@link ClusterState} that is republished, coalesced, after every change.
 *
 * <p>Informer callbacks only mark the affected Service dirty; one publisher thread re-reads those
 * Services and their slices from the informer caches, resolves them ({@link ServiceResolver}) and
 * swaps in the next snapshot with one volatile write, at most {@link #PUBLISH_DELAY_MS} after the
 * first change of a burst. Because the caches are the only truth, a late or repeated event can
 * never leave a stale route behind. When the API server is unreachable the informers keep their
 * caches and retry with backoff, so the last known table keeps serving.
 *
 * <p>Only exported Services enter the table ({@link ExportPolicy}, with the Namespaces or
 * ServiceExports it reads watched by {@link ExportWatch}); a change of an export label or a
 * ServiceExport marks the Services it concerns dirty like any other event.
 */
public final class KubernetesCluster implements RouteSource, AutoCloseable {

    /** How long the publisher waits after a change for more changes of the same burst. */
    public static final long PUBLISH_DELAY_MS = 20;

    private static final Logger log = LoggerFactory.getLogger(KubernetesCluster.class);
    private static final String BY_SERVICE = "meshgate-service";
    private static final long WATCHDOG_MS = 250;

    private final String name;
    private final KubernetesClient client;
    private final boolean ownsClient;
    private final List<String> namespaces;
    private final MeterRegistry registry;
    private final List<Meter> meters = new ArrayList<>();
    private final Counter reconnects;
    private final ClusterHealth health;
    private final ScheduledExecutorService publisher;
    /** Informer pairs by namespace; the key {@code null} watches every namespace. */
    private final Map<String, WatchedNamespace> watched = new LinkedHashMap<>();
    private final Set<ServiceHost> dirty = ConcurrentHashMap.newKeySet();
    private final ExportWatch exports;
    /** Services seen but not exported, for the gauge; written by the publisher thread only. */
    private final Set<ServiceHost> unexported = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean publishScheduled = new AtomicBoolean();
    private final long startNanos = System.nanoTime();

    private volatile ClusterState state;
    private volatile boolean synced;
    private volatile long lastEventNanos = System.nanoTime();
    private volatile boolean closed;

    /**
     * A cluster reached through a kubeconfig file, or through the pod's service account (fabric8
     * auto-configuration) when {@code kubeconfig} is empty.
     *
     * @param namespaces namespaces whose Services are watched; empty = every namespace
     * @param exports    which of those Services other clusters may reach ({@code discovery.export})
     * @throws IllegalArgumentException when the kubeconfig file cannot be read or parsed (names the file)
     */
    public KubernetesCluster(String name, Optional<Path> kubeconfig, List<String> namespaces, ExportPolicy exports,
                             String clusterDomain, MeterRegistry registry) {
        this(name, connect(kubeconfig), true, namespaces, exports, clusterDomain, registry);
    }

    /** A cluster reached through a client the caller owns and closes (tests, the demo). */
    public KubernetesCluster(String name, KubernetesClient client, List<String> namespaces, ExportPolicy exports,
                             String clusterDomain, MeterRegistry registry) {
        this(name, client, false, namespaces, exports, clusterDomain, registry);
    }

    /**
     * As above with every Service exported ({@link ExportPolicy#ALL}, protected ones excepted), for
     * tests and tools that read a whole cluster; the gateway always passes the configured policy.
     */
    public KubernetesCluster(String name, KubernetesClient client, List<String> namespaces, String clusterDomain,
                             MeterRegistry registry) {
        this(name, client, false, namespaces, ExportPolicy.ALL, clusterDomain, registry);
    }

    private KubernetesCluster(String name, KubernetesClient given, boolean ownsGiven, List<String> namespaces,
                              ExportPolicy exportPolicy, String clusterDomain, MeterRegistry registry) {
        this.name = name;
        // Informers run on a client of our own with the same config plus a watch-counting interceptor:
        // fabric8 re-establishes broken watches inside its watch manager, where isWatching() often
        // never turns false, so counting watch requests is the reliable way to count reconnects.
        this.client = new KubernetesClientBuilder().withConfig(given.getConfiguration())
                .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("meshgate-watch-reconnects", new WatchRequests()))
                .build();
        if (ownsGiven) {
            given.close();
        }
        this.ownsClient = true;
        this.namespaces = List.copyOf(namespaces);
        this.exports = new ExportWatch(name, exportPolicy, client, namespaces);
        this.registry = registry;
        this.state = ClusterState.empty(clusterDomain);
        this.publisher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "meshgate-discovery-" + name);
            t.setDaemon(true);
            return t;
        });
        this.health = new ClusterHealth(name, client.getConfiguration().getMasterUrl(), registry);
        this.reconnects = Counter.builder("meshgate.discovery.watch.reconnects")
                .description("Watches on the API server re-established after they broke")
                .tag("cluster", name).register(registry);
        meters.add(reconnects);
        meters.add(Gauge.builder("meshgate.discovery.synced", this, c -> c.synced ? 1 : 0)
                .description("1 once the cluster's Services and EndpointSlices were listed").tag("cluster", name)
                .register(registry));
        meters.add(Gauge.builder("meshgate.discovery.services", this, c -> c.state.serviceCount())
                .description("Services in the published route table").tag("cluster", name).register(registry));
        meters.add(Gauge.builder("meshgate.discovery.services.unexported", unexported, Set::size)
                .description("Services seen but not exported (discovery.export): other clusters cannot reach them")
                .tag("cluster", name).register(registry));
        meters.add(Gauge.builder("meshgate.discovery.endpoints", this, c -> c.state.endpointCount())
                .description("Routable endpoints summed over every Service port").tag("cluster", name)
                .register(registry));
        meters.add(Gauge.builder("meshgate.discovery.last.event.age", this, KubernetesCluster::lastEventAgeSeconds)
                .baseUnit("seconds").description("Time since the last Service or EndpointSlice event (or start)")
                .tag("cluster", name).register(registry));
    }

    private static KubernetesClient connect(Optional<Path> kubeconfig) {
        Config config;
        if (kubeconfig.isPresent()) {
            Path file = kubeconfig.get();
            if (!Files.isReadable(file)) {
                throw new IllegalArgumentException("kubeconfig " + file + ": not a readable file");
            }
            try {
                config = Config.fromKubeconfig(file.toFile());
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("kubeconfig " + file + ": " + e.getMessage(), e);
            }
        } else {
            config = Config.autoConfigure(null);
        }
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    /** Starts the informers (non-blocking); {@link #synced()} turns true once both have listed. */
    public KubernetesCluster start() {
        List<CompletableFuture<Void>> starts = new ArrayList<>();
        if (namespaces.isEmpty()) {
            watch(null, starts);
        } else {
            namespaces.forEach(ns -> watch(ns, starts));
        }
        exports.start(this::servicesIn, this::changed, this::schedulePublish);
        CompletableFuture.allOf(starts.toArray(CompletableFuture[]::new)).whenComplete((v, t) -> schedulePublish());
        publisher.scheduleWithFixedDelay(this::checkWatches, WATCHDOG_MS, WATCHDOG_MS, TimeUnit.MILLISECONDS);
        return this;
    }

    private void watch(String namespace, List<CompletableFuture<Void>> starts) {
        var serviceOps = client.services();
        var sliceOps = client.discovery().v1().endpointSlices();
        SharedIndexInformer<Service> services = informer(namespace == null
                ? serviceOps.inAnyNamespace() : serviceOps.inNamespace(namespace));
        SharedIndexInformer<EndpointSlice> slices = informer(namespace == null
                ? sliceOps.inAnyNamespace() : sliceOps.inNamespace(namespace));
        slices.addIndexers(Map.of(BY_SERVICE, s -> ClusterState.ownerOf(s).map(o -> List.of(storeKey(o))).orElse(List.of())));
        services.addEventHandler(handler(s -> List.of(ClusterState.keyOf(s))));
        slices.addEventHandler(handler(s -> ClusterState.ownerOf(s).map(List::of).orElse(List.of())));
        watched.put(namespace, new WatchedNamespace(new Watched<>(services), new Watched<>(slices)));
        starts.add(services.start().toCompletableFuture());
        starts.add(slices.start().toCompletableFuture());
    }

    private <T extends io.fabric8.kubernetes.api.model.HasMetadata> SharedIndexInformer<T> informer(
            AnyNamespaceOperation<T, ?, ?> ops) {
        return ops.runnableInformer(0);
    }

    private <T> ResourceEventHandler<T> handler(Function<T, List<ServiceHost>> keys) {
        return new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                changed(keys.apply(obj));
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                changed(keys.apply(oldObj)); // a slice may move to another Service
                changed(keys.apply(newObj));
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                changed(keys.apply(obj));
            }
        };
    }

    private void changed(List<ServiceHost> keys) {
        lastEventNanos = System.nanoTime();
        dirty.addAll(keys);
        schedulePublish();
    }

    private void schedulePublish() {
        if (!closed && publishScheduled.compareAndSet(false, true)) {
            publisher.schedule(this::publish, PUBLISH_DELAY_MS, TimeUnit.MILLISECONDS);
        }
    }

    /** Runs on the publisher thread only, so snapshots are built by one writer in order. */
    private void publish() {
        publishScheduled.set(false);
        try {
            boolean firstSync = !synced && watched.values().stream().allMatch(WatchedNamespace::hasSynced) && exports.synced();
            if (!synced && !firstSync) {
                return; // keep the dirty keys: the first complete table is built from the full caches
            }
            List<ServiceHost> keys = new ArrayList<>();
            for (ServiceHost key : dirty) {
                if (dirty.remove(key)) { // removed before the caches are read: a later event re-marks it
                    keys.add(key);
                }
            }
            if (firstSync) {
                watched.values().forEach(w -> w.services.informer.getStore().list().forEach(s -> keys.add(ClusterState.keyOf(s))));
            }
            state = next(state, keys);
            if (firstSync) {
                synced = true;
                log.info("cluster {}: synced, {} services exported, {} not (discovery.export: {}), {} endpoints", name,
                        state.serviceCount(), unexported.size(), exports.policy().configName(), state.endpointCount());
            }
        } catch (RuntimeException e) {
            log.error("cluster {}: publishing the route table failed, keeping the previous one", name, e);
        }
    }

    private ClusterState next(ClusterState current, List<ServiceHost> keys) {
        Map<ServiceHost, ServiceRoutes> changed = new HashMap<>();
        List<ServiceHost> removed = new ArrayList<>();
        for (ServiceHost key : keys) {
            WatchedNamespace w = namespaces.isEmpty() ? watched.get(null) : watched.get(key.namespace());
            Service service = w == null ? null : w.services.informer.getStore().getByKey(storeKey(key));
            if (service == null || !exports.exports(service)) {
                removed.add(key); // not exported: absent from the table, so it answers no-such-service
                if (service == null) {
                    unexported.remove(key);
                } else {
                    unexported.add(key);
                }
            } else {
                unexported.remove(key);
                changed.put(key, ServiceResolver.routes(service, w.slices.informer.getIndexer().byIndex(BY_SERVICE, storeKey(key))));
            }
        }
        return current.with(changed, removed);
    }

    /** The Services of {@code namespace} in the caches now (its labels changed: they may move). */
    private List<ServiceHost> servicesIn(String namespace) {
        WatchedNamespace w = namespaces.isEmpty() ? watched.get(null) : watched.get(namespace);
        return w == null ? List.of() : w.services.informer.getIndexer().byIndex(Cache.NAMESPACE_INDEX, namespace).stream()
                .map(ClusterState::keyOf).toList();
    }

    private static String storeKey(ServiceHost key) {
        return key.namespace() + "/" + key.name();
    }

    /** Counts every watch request after the first one per resource path as a reconnect. */
    private final class WatchRequests implements io.fabric8.kubernetes.client.http.Interceptor {
        private final java.util.Set<String> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();

        @Override
        public void before(io.fabric8.kubernetes.client.http.BasicBuilder builder,
                           io.fabric8.kubernetes.client.http.HttpRequest request,
                           io.fabric8.kubernetes.client.http.Interceptor.RequestTags tags) {
            java.net.URI uri = request.uri();
            if (uri.getRawQuery() != null && uri.getRawQuery().contains("watch=true") && !seen.add(uri.getPath())) {
                reconnects.increment();
            }
        }
    }

    /** Notes when a watch breaks and when every watch is back, for operators ({@link ClusterHealth}). */
    private void checkWatches() {
        try {
            boolean all = true;
            for (WatchedNamespace w : watched.values()) {
                all &= w.services.check();
                all &= w.slices.check();
            }
            if (all) {
                health.watching();
            }
        } catch (RuntimeException e) {
            log.warn("cluster {}: watch check failed", name, e);
        }
    }

    private double lastEventAgeSeconds() {
        return (System.nanoTime() - Math.max(lastEventNanos, startNanos)) / 1e9;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public RouteTable current() {
        return state;
    }

    /** The client the informers use (read-only access to this cluster's API server). */
    public KubernetesClient client() {
        return client;
    }

    /** The latest snapshot with its counts, for tests and {@code /debug/routes}. */
    public ClusterState state() {
        return state;
    }

    /** True once Services and EndpointSlices were listed in every watched namespace and published. */
    @Override
    public boolean synced() {
        return synced;
    }

    @Override
    public void close() {
        closed = true;
        exports.close();
        watched.values().forEach(w -> {
            w.services.informer.close();
            w.slices.informer.close();
        });
        publisher.shutdownNow();
        meters.forEach(registry::remove);
        health.close();
        if (ownsClient) {
            client.close();
        }
    }

    /** The Service and EndpointSlice informers of one watched namespace (or of all). */
    private record WatchedNamespace(Watched<Service> services, Watched<EndpointSlice> slices) {
        boolean hasSynced() {
            return services.informer.hasSynced() && slices.informer.hasSynced();
        }
    }

    /**
     * One informer and whether its watch is up. Failures go to {@link ClusterHealth}, which logs
     * each change of state once (fabric8's own per-retry warning is silenced in logback.xml).
     */
    private final class Watched<T extends io.fabric8.kubernetes.api.model.HasMetadata> {
        final SharedIndexInformer<T> informer;
        private final String resource;
        private boolean wasWatching;

        Watched(SharedIndexInformer<T> informer) {
            this.informer = informer;
            Class<T> type = informer.getApiTypeClass();
            String group = io.fabric8.kubernetes.api.model.HasMetadata.getGroup(type);
            this.resource = io.fabric8.kubernetes.api.model.HasMetadata.getPlural(type)
                    + (group == null || group.isEmpty() ? "" : "." + group);
            // Retry forever, also when the first list fails: a gateway started while the API server
            // is down must come up once it is back, not stay empty.
            informer.exceptionHandler((started, t) -> {
                log.debug("cluster {}: {} list/watch failed ({}), retrying with backoff", name, resource, t.toString());
                if (!closed) {
                    health.failed(resource, informer.hasSynced() ? "watch" : "list", t);
                }
                return !closed;
            });
        }

        /** True while the watch is established. */
        boolean check() {
            boolean watching;
            try {
                watching = informer.isWatching();
            } catch (NullPointerException e) {
                watching = false; // fabric8's Reflector has no watch yet (just started or stopped): not watching
            }
            if (!watching && wasWatching && !closed) {
                health.watchBroken(resource);
            }
            wasWatching = watching;
            return watching;
        }
    }
}
