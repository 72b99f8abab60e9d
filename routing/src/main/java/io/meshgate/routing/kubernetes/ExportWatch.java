package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ListOptions;
import io.fabric8.kubernetes.api.model.ListOptionsBuilder;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.meshgate.routing.ServiceHost;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The objects an {@link ExportPolicy} reads besides the Service, kept in informer caches: the
 * Namespaces ({@code labelled}: their export label) or the {@code ServiceExport}s
 * ({@code serviceExport}); nothing for {@code all}. A change names the Services it may move, so
 * the cluster re-resolves just those.
 *
 * <p>A resource the API server refuses to list (the ServiceExport CRD not installed: 404; no
 * RBAC: 403) is reported once, in one line that says what to do, and then counts as listed and
 * empty: the cluster becomes ready and exports only what the rest of the rule allows (nothing,
 * under {@code serviceExport}). The list is retried with backoff (up to once a minute), so
 * installing the CRD or granting the permission later takes effect without a restart. A resource
 * that disappears once its informer runs (the CRD deleted) is treated like an unreachable API
 * server: the last known objects keep deciding.
 */
final class ExportWatch implements AutoCloseable {

    /** KEP-1645 (Multi-Cluster Services API), as {@code kubectl get serviceexports.multicluster.x-k8s.io} names it. */
    static final ResourceDefinitionContext SERVICE_EXPORT = new ResourceDefinitionContext.Builder()
            .withGroup("multicluster.x-k8s.io").withVersion("v1alpha1").withKind("ServiceExport")
            .withPlural("serviceexports").withNamespaced(true).build();

    private static final Logger log = LoggerFactory.getLogger(ExportWatch.class);
    /** The longest wait between two checks of a refused resource. */
    static final long MAX_RECHECK_MS = 60_000;
    private static final ListOptions ONE = new ListOptionsBuilder().withLimit(1L).build();

    private final String cluster;
    private final ExportPolicy policy;
    private final KubernetesClient client;
    private final List<String> namespaces;
    /** Informers whose resource the API server refused (404/403) since their last successful list. */
    private final Set<SharedIndexInformer<?>> refused = ConcurrentHashMap.newKeySet();
    private SharedIndexInformer<Namespace> namespaceInformer;
    /**
     * Lists a resource once before its informer starts, and again later while it is refused;
     * blocking calls, so its own thread. Null under {@code export: all}, which watches nothing.
     */
    private final ScheduledExecutorService rechecks;
    private volatile boolean closed;
    /** ServiceExport informers by namespace; the key {@code null} watches every namespace. */
    private final Map<String, Tolerated<GenericKubernetesResource>> serviceExports = new LinkedHashMap<>();

    /**
     * @param namespaces the namespaces the cluster watches; empty = every namespace
     */
    ExportWatch(String cluster, ExportPolicy policy, KubernetesClient client, List<String> namespaces) {
        this.cluster = cluster;
        this.policy = policy;
        this.client = client;
        this.namespaces = List.copyOf(namespaces);
        this.rechecks = policy == ExportPolicy.ALL ? null : Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "meshgate-exports-" + cluster);
            t.setDaemon(true);
            return t;
        });
    }

    /** The first wait before listing a refused resource again: the client's watch reconnect interval. */
    private long firstRecheckMs() {
        return Math.max(100, client.getConfiguration().getWatchReconnectInterval());
    }

    ExportPolicy policy() {
        return policy;
    }

    /**
     * Starts the informers this policy needs (non-blocking).
     *
     * @param servicesIn the Services of a namespace now, to re-resolve when its labels change
     * @param changed    called with the Services a change may move
     * @param settled    called when an informer has listed, or was refused for good reason
     */
    void start(Function<String, List<ServiceHost>> servicesIn, Consumer<List<ServiceHost>> changed, Runnable settled) {
        if (policy == ExportPolicy.LABELLED) {
            namespaceInformer = client.namespaces().runnableInformer(0);
            Tolerated<Namespace> watched = new Tolerated<>(namespaceInformer,
                    () -> client.namespaces().list(ONE), "Namespaces",
                    "namespace labels " + ExportPolicy.LABEL + " are not seen, so only Services labelled themselves"
                            + " are exported; grant list/watch on namespaces to meshgate's ServiceAccount", settled);
            namespaceInformer.addEventHandler(handler(ns -> servicesIn.apply(ns.getMetadata().getName()),
                    (a, b) -> Objects.equals(exportLabel(a), exportLabel(b)), changed));
            rechecks.execute(() -> watched.start(firstRecheckMs()));
        } else if (policy == ExportPolicy.SERVICE_EXPORT) {
            var ops = client.genericKubernetesResources(SERVICE_EXPORT);
            for (String ns : namespaces.isEmpty() ? java.util.Collections.<String>singletonList(null) : namespaces) {
                SharedIndexInformer<GenericKubernetesResource> informer = ns == null
                        ? ops.inAnyNamespace().runnableInformer(0) : ops.inNamespace(ns).runnableInformer(0);
                Runnable probe = ns == null ? () -> ops.inAnyNamespace().list(ONE) : () -> ops.inNamespace(ns).list(ONE);
                Tolerated<GenericKubernetesResource> watched = new Tolerated<>(informer, probe, "ServiceExports",
                        "the ServiceExport CRD (serviceexports.multicluster.x-k8s.io, v1alpha1, Kubernetes"
                                + " Multi-Cluster Services API) is not installed or not readable, so nothing in "
                                + (ns == null ? "this cluster" : "namespace " + ns) + " is exported; install the CRD"
                                + " (sigs.k8s.io/mcs-api) and grant list/watch on serviceexports, or set"
                                + " discovery.export: labelled", settled);
                informer.addEventHandler(handler(e -> List.of(new ServiceHost(e.getMetadata().getName(),
                        e.getMetadata().getNamespace())), (a, b) -> true, changed));
                serviceExports.put(ns, watched);
                rechecks.execute(() -> watched.start(firstRecheckMs()));
            }
        }
    }

    /** True once every informer listed or was refused (then it counts as empty). */
    boolean synced() {
        if (namespaceInformer != null && !settled(namespaceInformer)) {
            return false;
        }
        return serviceExports.values().stream().allMatch(w -> settled(w.informer));
    }

    private boolean settled(SharedIndexInformer<?> informer) {
        return informer.hasSynced() || refused.contains(informer);
    }

    /** Whether the policy exports {@code service} given the cached Namespaces and ServiceExports. */
    boolean exports(Service service) {
        String ns = service.getMetadata().getNamespace();
        Map<String, String> labels = Map.of();
        if (namespaceInformer != null) {
            Namespace n = namespaceInformer.getStore().getByKey(ns);
            labels = n == null || n.getMetadata().getLabels() == null ? Map.of() : n.getMetadata().getLabels();
        }
        boolean exported = false;
        if (!serviceExports.isEmpty()) {
            Tolerated<GenericKubernetesResource> w = serviceExports.containsKey(null) ? serviceExports.get(null) : serviceExports.get(ns);
            exported = w != null && w.informer.getStore().getByKey(ns + "/" + service.getMetadata().getName()) != null;
        }
        return policy.exports(service, labels, exported);
    }

    private static String exportLabel(HasMetadata o) {
        return o.getMetadata().getLabels() == null ? null : o.getMetadata().getLabels().get(ExportPolicy.LABEL);
    }

    /** Marks the keys of an added, changed or deleted object; {@code same} skips updates that change nothing relevant. */
    private static <T> ResourceEventHandler<T> handler(Function<T, List<ServiceHost>> keys,
                                                       java.util.function.BiPredicate<T, T> same,
                                                       Consumer<List<ServiceHost>> changed) {
        return new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                changed.accept(keys.apply(obj));
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                if (!same.test(oldObj, newObj)) {
                    changed.accept(keys.apply(newObj));
                }
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                changed.accept(keys.apply(obj));
            }
        };
    }

    /**
     * An informer the cluster can do without. It starts only once a one-item list succeeds: while
     * the API server refuses the resource (404/403) that refusal is reported once, the informer
     * counts as listed and empty, and the list is retried with backoff, without fabric8's
     * per-retry warnings (an informer retrying a 404 logs a stack trace each time).
     */
    private final class Tolerated<T> {
        final SharedIndexInformer<T> informer;
        private final Runnable probe;
        private final String what;
        private final String consequence;
        private final Runnable settled;

        Tolerated(SharedIndexInformer<T> informer, Runnable probe, String what, String consequence, Runnable settled) {
            this.informer = informer;
            this.probe = probe;
            this.what = what;
            this.consequence = consequence;
            this.settled = settled;
            informer.exceptionHandler((started, t) -> {
                log.debug("cluster {}: {} list/watch failed ({}), retrying with backoff", cluster, what, t.toString());
                return !closed;
            });
        }

        void start(long backoffMs) {
            if (closed) {
                return;
            }
            int code;
            try {
                probe.run();
                code = 200;
            } catch (RuntimeException e) {
                code = statusCode(e);
            }
            if (code == 404 || code == 403) {
                if (refused.add(informer)) {
                    log.warn("cluster {}: discovery.export {}: listing {} was refused ({} {}): {}; checking again with backoff up to {}s",
                            cluster, policy.configName(), what, code, code == 404 ? "Not Found" : "Forbidden", consequence,
                            MAX_RECHECK_MS / 1000);
                    settled.run();
                }
                long next = Math.min(backoffMs * 2, MAX_RECHECK_MS);
                rechecks.schedule(() -> start(next), backoffMs, TimeUnit.MILLISECONDS);
                return;
            }
            // Listable, or the API server is unreachable: the informer's own retries take it from here.
            informer.start().whenComplete((v, t) -> {
                if (t == null && refused.remove(informer)) {
                    log.info("cluster {}: {} can be listed now; discovery.export {} uses them", cluster, what,
                            policy.configName());
                }
                settled.run();
            });
        }
    }

    /** The HTTP status of the API server's answer somewhere in {@code t}'s causes, or 0. */
    static int statusCode(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof KubernetesClientException k && k.getCode() > 0) {
                return k.getCode();
            }
        }
        return 0;
    }

    @Override
    public void close() {
        closed = true;
        if (rechecks != null) {
            rechecks.shutdownNow();
        }
        if (namespaceInformer != null) {
            namespaceInformer.close();
        }
        serviceExports.values().forEach(w -> w.informer.close());
    }
}
