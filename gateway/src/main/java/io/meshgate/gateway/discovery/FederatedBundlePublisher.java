package io.meshgate.gateway.discovery;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.meshgate.gateway.config.GatewaySpec.PublishSpec;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.HttpURLConnection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes the federated bundle into the local cluster as the ConfigMap {@code trust.federation.publish}
 * (and, when {@code clusterTrustBundle} is on, one {@code certificates.k8s.io/v1beta1}
 * ClusterTrustBundle per source cluster under meshgate's signer name), the way trust-manager writes
 * its targets: created when absent, updated only when the text differs, marked as meshgate's with the
 * label {@value #OWNED_LABEL}. An object of that name meshgate did not create is never overwritten or
 * deleted: it is reported (WARN naming it, {@code meshgate_trust_publish_total{result="conflict"}}).
 * Called on the federation's own thread only.
 */
final class FederatedBundlePublisher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(FederatedBundlePublisher.class);

    /** Marks what meshgate created (and may update or, for ClusterTrustBundles, delete). */
    static final String OWNED_LABEL = "meshgate.io/federated-bundle";
    static final String MANAGED_BY = "app.kubernetes.io/managed-by";

    static final ResourceDefinitionContext CLUSTER_TRUST_BUNDLE = new ResourceDefinitionContext.Builder()
            .withGroup("certificates.k8s.io").withVersion("v1beta1").withKind("ClusterTrustBundle")
            .withPlural("clustertrustbundles").withNamespaced(false).build();

    /** Outcome of one publish attempt; the {@code result} label. */
    enum Result { CREATED, UPDATED, UNCHANGED, CONFLICT, FAILED }

    private final KubernetesClient client;
    private final PublishSpec spec;
    private final MeterRegistry registry;
    private final Map<Result, Counter> results = new ConcurrentHashMap<>();
    /** What was last written or found current; null: unknown (start, after a failure). */
    private String published;
    /** The last problem logged, so a repeating one is logged once. */
    private String lastProblem;
    private boolean clusterTrustBundles;
    private final Map<String, String> publishedPerCluster = new HashMap<>();

    FederatedBundlePublisher(KubernetesClient client, PublishSpec spec, MeterRegistry registry) {
        this.client = client;
        this.spec = spec;
        this.registry = registry;
        this.clusterTrustBundles = spec.clusterTrustBundle();
    }

    private String where() {
        return "ConfigMap " + spec.namespace() + "/" + spec.name();
    }

    /** Publishes {@code pem} (the whole federated bundle); {@link Result#FAILED}: retry later. */
    Result publish(String pem) {
        if (pem.isEmpty() || pem.equals(published)) {
            return Result.UNCHANGED;
        }
        Result result;
        try {
            result = write(pem, true);
        } catch (KubernetesClientException e) {
            result = Result.FAILED;
            problem("cannot write " + where() + " (HTTP " + e.getCode() + "): " + reason(e) + "; retrying");
        }
        count(result);
        if (result == Result.CREATED || result == Result.UPDATED || result == Result.UNCHANGED) {
            if (result != Result.UNCHANGED) {
                log.info("trust federation: {} {} ({} bytes)", where(), result.name().toLowerCase(java.util.Locale.ROOT),
                        pem.length());
            }
            published = pem;
            lastProblem = null;
        } else {
            published = null;
        }
        return result;
    }

    private Result write(String pem, boolean retryOnConflict) {
        ConfigMap current = client.configMaps().inNamespace(spec.namespace()).withName(spec.name()).get();
        if (current == null) {
            ConfigMap fresh = new ConfigMapBuilder().withNewMetadata().withNamespace(spec.namespace()).withName(spec.name())
                    .addToLabels(OWNED_LABEL, "true").addToLabels(MANAGED_BY, "meshgate").endMetadata()
                    .addToData(spec.key(), pem).build();
            try {
                client.configMaps().inNamespace(spec.namespace()).resource(fresh).create();
                return Result.CREATED;
            } catch (KubernetesClientException e) {
                if (e.getCode() == HttpURLConnection.HTTP_CONFLICT && retryOnConflict) {
                    return write(pem, false); // another replica created it meanwhile
                }
                throw e;
            }
        }
        Map<String, String> labels = current.getMetadata().getLabels();
        if (labels == null || !"true".equals(labels.get(OWNED_LABEL))) {
            problem(where() + " exists and was not created by meshgate (no label " + OWNED_LABEL
                    + "=true): not overwriting it; delete it or choose another trust.federation.publish.name");
            return Result.CONFLICT;
        }
        if (current.getData() != null && pem.equals(current.getData().get(spec.key()))) {
            return Result.UNCHANGED;
        }
        Map<String, String> data = current.getData() == null ? new LinkedHashMap<>() : new LinkedHashMap<>(current.getData());
        data.put(spec.key(), pem);
        current.setData(data);
        try {
            client.configMaps().inNamespace(spec.namespace()).resource(current).update(); // optimistic: resourceVersion
            return Result.UPDATED;
        } catch (KubernetesClientException e) {
            if (e.getCode() == HttpURLConnection.HTTP_CONFLICT && retryOnConflict) {
                return write(pem, false); // another replica updated it meanwhile: look again
            }
            throw e;
        }
    }

    /**
     * One ClusterTrustBundle per source cluster ({@code bundles}: cluster → PEM of its roots), named
     * {@code <signer with '/' as ':'>:<cluster>} (the API server's rule for signer-linked bundles);
     * meshgate's ones for clusters no longer present are deleted. Writing a bundle that names a signer
     * needs {@code attest} on that signer (ClusterTrustBundleAttest admission). An API server without
     * {@code certificates.k8s.io/v1beta1} turns the feature off with one WARN. False: a write failed
     * (counted, logged once per distinct problem); call again later.
     */
    boolean publishClusterTrustBundles(Map<String, String> bundles, String signerName) {
        if (!clusterTrustBundles || bundles.equals(publishedPerCluster)) {
            return true;
        }
        String prefix = signerName.replace('/', ':') + ":";
        var api = client.genericKubernetesResources(CLUSTER_TRUST_BUNDLE);
        String name = null;
        try {
            for (Map.Entry<String, String> e : bundles.entrySet()) {
                name = prefix + e.getKey();
                Result result = writeBundle(name, Map.of("signerName", signerName, "trustBundle", e.getValue()), true);
                if (result != Result.UNCHANGED) {
                    count(result);
                }
                if (result == Result.CREATED || result == Result.UPDATED) {
                    log.info("trust federation: ClusterTrustBundle {} {} (signer {})", name,
                            result.name().toLowerCase(java.util.Locale.ROOT), signerName);
                }
            }
            name = null;
            for (GenericKubernetesResource mine : api.withLabel(OWNED_LABEL, "true").list().getItems()) {
                String mineName = mine.getMetadata().getName();
                if (mineName.startsWith(prefix) && !bundles.containsKey(mineName.substring(prefix.length()))) {
                    name = mineName;
                    api.withName(mineName).delete();
                    log.info("trust federation: ClusterTrustBundle {} deleted (its cluster's roots left)", mineName);
                }
            }
            publishedPerCluster.clear();
            publishedPerCluster.putAll(bundles);
            return true;
        } catch (KubernetesClientException e) {
            publishedPerCluster.clear();
            if (e.getCode() == HttpURLConnection.HTTP_NOT_FOUND && !servesClusterTrustBundles()) {
                clusterTrustBundles = false;
                log.warn("trust federation: the local API server does not serve {}/{} ClusterTrustBundle; "
                        + "trust.federation.publish.clusterTrustBundle is off for this run", CLUSTER_TRUST_BUNDLE.getGroup(),
                        CLUSTER_TRUST_BUNDLE.getVersion());
                return true;
            }
            count(Result.FAILED);
            problem("cannot write ClusterTrustBundle" + (name == null ? "s" : " " + name) + " (HTTP " + e.getCode() + "): "
                    + reason(e) + "; retrying");
            return false;
        }
    }

    /** Creates or updates one bundle; a conflict (another replica wrote it meanwhile) is looked at again once. */
    private Result writeBundle(String name, Map<String, Object> spec, boolean retryOnConflict) {
        var api = client.genericKubernetesResources(CLUSTER_TRUST_BUNDLE);
        GenericKubernetesResource current = api.withName(name).get();
        if (current != null && !owned(current)) {
            problem("ClusterTrustBundle " + name + " exists and was not created by meshgate (no label " + OWNED_LABEL
                    + "=true): not overwriting it");
            return Result.CONFLICT;
        }
        if (current != null && Objects.equals(current.getAdditionalProperties().get("spec"), spec)) {
            return Result.UNCHANGED;
        }
        GenericKubernetesResource next = new GenericKubernetesResourceBuilder()
                .withApiVersion(CLUSTER_TRUST_BUNDLE.getGroup() + "/" + CLUSTER_TRUST_BUNDLE.getVersion())
                .withKind(CLUSTER_TRUST_BUNDLE.getKind())
                .withNewMetadata().withName(name).addToLabels(OWNED_LABEL, "true").addToLabels(MANAGED_BY, "meshgate")
                .withResourceVersion(current == null ? null : current.getMetadata().getResourceVersion()).endMetadata()
                .build();
        next.setAdditionalProperty("spec", spec);
        try {
            if (current == null) {
                api.resource(next).create();
                return Result.CREATED;
            }
            api.resource(next).update(); // optimistic: resourceVersion
            return Result.UPDATED;
        } catch (KubernetesClientException e) {
            if (e.getCode() == HttpURLConnection.HTTP_CONFLICT && retryOnConflict) {
                return writeBundle(name, spec, false);
            }
            throw e;
        }
    }

    /** Whether API discovery lists ClusterTrustBundles in {@code certificates.k8s.io/v1beta1}. */
    private boolean servesClusterTrustBundles() {
        try {
            var resources = client.getApiResources(CLUSTER_TRUST_BUNDLE.getGroup() + "/" + CLUSTER_TRUST_BUNDLE.getVersion());
            return resources != null && resources.getResources().stream()
                    .anyMatch(r -> CLUSTER_TRUST_BUNDLE.getPlural().equals(r.getName()));
        } catch (KubernetesClientException e) {
            return e.getCode() != HttpURLConnection.HTTP_NOT_FOUND;
        }
    }

    private static boolean owned(GenericKubernetesResource r) {
        Map<String, String> labels = r.getMetadata().getLabels();
        return labels != null && "true".equals(labels.get(OWNED_LABEL));
    }

    private static String reason(KubernetesClientException e) {
        return e.getStatus() != null && e.getStatus().getMessage() != null ? e.getStatus().getMessage() : e.getMessage();
    }

    private void problem(String text) {
        if (!text.equals(lastProblem)) {
            lastProblem = text;
            log.warn("trust federation: {}", text);
        }
    }

    private void count(Result result) {
        results.computeIfAbsent(result, r -> Counter.builder("meshgate.trust.publish")
                .description("Attempts to publish the federated bundle into the local cluster, by result")
                .tag("result", r.name().toLowerCase(java.util.Locale.ROOT)).register(registry)).increment();
    }

    @Override
    public void close() {
        results.values().forEach(registry::remove);
    }
}
