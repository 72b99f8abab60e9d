package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.RemoteCluster;
import io.meshgate.routing.Router;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Adds and removes remote clusters at runtime from Secrets in the gateway's own namespace, like
 * Istio's remote secrets: a Secret labelled {@code meshgate.io/remote-cluster: "true"} carries a
 * {@code kubeconfig} (read access to that cluster's Services and EndpointSlices), optionally a
 * fixed {@code gateway} ({@code host:port}) and a {@code gatewayService}; the cluster's name is
 * the annotation {@code meshgate.io/cluster-name}, else the Secret's name. A broken Secret is
 * logged and counted and changes nothing.
 */
public final class RemoteSecrets implements AutoCloseable {

    public static final String LABEL = "meshgate.io/remote-cluster";
    public static final String NAME_ANNOTATION = "meshgate.io/cluster-name";

    private static final Logger log = LoggerFactory.getLogger(RemoteSecrets.class);

    private final KubernetesClient client;
    private final String namespace;
    private final Router router;
    private final String clusterDomain;
    private final ExportPolicy exports;
    private final MeterRegistry registry;
    private final ClusterAttachment attachment;
    private final Counter failures;
    private final Map<String, RemoteCluster> bySecret = new ConcurrentHashMap<>();
    private SharedIndexInformer<Secret> informer;
    /** Failure reasons already logged, so a retry loop logs each once. */
    private final java.util.Set<String> reported = ConcurrentHashMap.newKeySet();

    public RemoteSecrets(KubernetesClient client, String namespace, Router router, String clusterDomain,
                         MeterRegistry registry) {
        this(client, namespace, router, ExportPolicy.ALL, clusterDomain, registry);
    }

    /** Remote clusters whose Services are destinations only when {@code exports} allows them there. */
    public RemoteSecrets(KubernetesClient client, String namespace, Router router, ExportPolicy exports,
                         String clusterDomain, MeterRegistry registry) {
        this(client, namespace, router, exports, clusterDomain, registry, ClusterAttachment.NONE);
    }

    /** As above; {@code attachment} is attached to every remote cluster while its Secret is there. */
    public RemoteSecrets(KubernetesClient client, String namespace, Router router, ExportPolicy exports,
                         String clusterDomain, MeterRegistry registry, ClusterAttachment attachment) {
        this.attachment = attachment;
        this.exports = exports;
        this.client = client;
        this.namespace = namespace;
        this.router = router;
        this.clusterDomain = clusterDomain;
        this.registry = registry;
        this.failures = Counter.builder("meshgate.discovery.remote.secret.failures")
                .description("Remote-cluster Secrets that could not be used").register(registry);
    }

    public RemoteSecrets start() {
        informer = client.secrets().inNamespace(namespace).withLabel(LABEL, "true").runnableInformer(0);
        informer.exceptionHandler((started, t) -> {
            reportListFailure(t);
            return true; // fabric8 retries with backoff
        });
        informer.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(Secret s) {
                apply(s);
            }

            @Override
            public void onUpdate(Secret old, Secret s) {
                // A re-applied, unchanged Secret (the documented step run again) keeps its cluster's watches.
                if (!s.getMetadata().getResourceVersion().equals(old.getMetadata().getResourceVersion()) && !sameLink(old, s)) {
                    apply(s);
                }
            }

            @Override
            public void onDelete(Secret s, boolean unknown) {
                remove(s.getMetadata().getName());
            }
        });
        informer.start();
        return this;
    }

    /** Logs each distinct reason the Secrets cannot be read once (fabric8's per-retry warning is silenced). */
    private void reportListFailure(Throwable t) {
        ClusterHealth.Failure f = ClusterHealth.classify("secrets", informer.hasSynced() ? "watch" : "list", t);
        if (reported.add(f.reason() + " " + f.verb() + " " + f.resource())) {
            if (f.reason() == ClusterHealth.Reason.FORBIDDEN) {
                log.warn("remote-cluster Secrets in {}: permission missing: the API server denies verb \"{}\" on resource "
                        + "\"{}\" to this gateway (HTTP 403); grant it (see the meshgate-remote-secrets Role). Retrying with backoff",
                        namespace, f.verb(), f.resource());
            } else {
                log.warn("remote-cluster Secrets in {}: cannot list/watch them ({}); retrying with backoff", namespace, f.detail());
            }
        }
    }

    /** The remote clusters added from Secrets now, by Secret name. */
    public Map<String, RemoteCluster> clusters() {
        return Map.copyOf(bySecret);
    }

    private synchronized void apply(Secret s) {
        String secret = s.getMetadata().getName();
        String name;
        Optional<Endpoint> gateway;
        String gatewayService;
        KubernetesClient remote;
        try {
            String kubeconfig = value(s, "kubeconfig")
                    .orElseThrow(() -> new IllegalArgumentException("no 'kubeconfig' key"));
            gateway = value(s, "gateway").map(String::trim).map(Endpoint::parse);
            gatewayService = value(s, "gatewayService").map(String::trim).orElse("meshgate-system/meshgate");
            Map<String, String> annotations = s.getMetadata().getAnnotations();
            name = annotations != null && annotations.get(NAME_ANNOTATION) != null ? annotations.get(NAME_ANNOTATION) : secret;
            remote = RemoteClusters.client(RemoteClusters.kubeconfig(kubeconfig, "Secret " + namespace + "/" + secret));
        } catch (RuntimeException e) {
            failures.increment();
            log.warn("remote-cluster Secret {}/{} ignored: {}", namespace, secret, e.getMessage());
            return;
        }
        // The old link is closed before the new one opens: both register the same per-cluster meters
        // (meshgate_cluster_up{cluster}, ...), and opening first would find the old ones, which the
        // old link's close then removes, leaving the cluster without them.
        remove(secret);
        RemoteCluster next;
        try {
            next = RemoteClusters.open(name, remote, gateway, gatewayService, exports, clusterDomain, registry, attachment);
        } catch (RuntimeException e) {
            remote.close();
            failures.increment();
            log.warn("remote cluster {} from Secret {}/{} could not be opened: {}", name, namespace, secret, e.toString());
            return;
        }
        bySecret.put(secret, next);
        router.addSource(next);
        log.info("remote cluster {} added from Secret {}/{}", next.name(), namespace, secret);
    }

    private synchronized void remove(String secret) {
        RemoteCluster old = bySecret.remove(secret);
        if (old != null) {
            router.removeSource(old);
            try {
                old.close();
            } catch (Exception e) {
                log.debug("closing remote cluster {}: {}", old.name(), e.toString());
            }
            log.info("remote cluster {} removed (Secret {}/{})", old.name(), namespace, secret);
        }
    }

    /** Whether two versions of a remote-cluster Secret describe the same link (keys and cluster name). */
    static boolean sameLink(Secret a, Secret b) {
        for (String key : new String[] {"kubeconfig", "gateway", "gatewayService"}) {
            if (!value(a, key).equals(value(b, key))) {
                return false;
            }
        }
        return java.util.Objects.equals(annotation(a), annotation(b));
    }

    private static String annotation(Secret s) {
        Map<String, String> annotations = s.getMetadata().getAnnotations();
        return annotations == null ? null : annotations.get(NAME_ANNOTATION);
    }

    /** The text under {@code key} in a remote-cluster Secret ({@code stringData} first, then base64 {@code data}). */
    public static Optional<String> value(Secret s, String key) {
        if (s.getStringData() != null && s.getStringData().get(key) != null) {
            return Optional.of(s.getStringData().get(key));
        }
        if (s.getData() != null && s.getData().get(key) != null) {
            return Optional.of(new String(Base64.getDecoder().decode(s.getData().get(key)), StandardCharsets.UTF_8));
        }
        return Optional.empty();
    }

    @Override
    public synchronized void close() {
        if (informer != null) {
            informer.close();
        }
        for (String secret : Map.copyOf(bySecret).keySet()) {
            remove(secret);
        }
        registry.remove(failures);
    }
}
