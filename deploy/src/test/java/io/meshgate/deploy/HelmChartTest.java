package io.meshgate.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.marcnuri.helm.LintResult;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.meshgate.gateway.config.MeshgateConfig;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Helm chart beside the Kustomize manifests: it lints clean under real Helm, renders the same
 * objects as the overlay of the same cluster (the shared checks in {@link ManifestsTest} run on
 * both), and its extra values (static remote clusters, ServiceExport) render what they promise.
 */
class HelmChartTest {

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final YAMLMapper YAML = new YAMLMapper();
    /** Labels Helm conventionally adds that a Kustomize rendering has no reason to carry. */
    private static final String[] HELM_ONLY_LABELS = {"app.kubernetes.io/managed-by", "helm.sh/chart"};

    @Test
    void chartLintsCleanInStrictMode() {
        LintResult lint = HelmChart.lint();

        assertThat(lint.isFailed()).as("helm lint --strict: %s", lint.getMessages()).isFalse();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"cluster-a", "cluster-b"})
    void chartAndOverlayRenderTheSameObjects(String cluster) throws IOException {
        Map<String, JsonNode> overlay = normalized(RenderedManifests.of("overlays/" + cluster));
        Map<String, JsonNode> chart = normalized(RenderedManifests.of("helm/" + cluster));

        assertThat(chart.keySet()).as("objects (kind namespace/name)").containsExactlyElementsOf(overlay.keySet());
        for (String key : overlay.keySet()) {
            assertThat(chart.get(key)).as("%s: helm vs kustomize", key).isEqualTo(overlay.get(key));
        }
    }

    @Test
    void chartDefaultsRenderTheSameObjectsAsTheBase() throws IOException {
        Map<String, JsonNode> base = normalized(RenderedManifests.of("base"));
        Map<String, JsonNode> chart = normalized(RenderedManifests.of("helm"));
        chart.values().forEach(o -> withoutLabel(o, "meshgate.io/cluster"));

        assertThat(chart).isEqualTo(base);
    }

    @Test
    void staticRemoteClustersGetAConfigEntryAndTheirKubeconfigSecretMounted() {
        RenderedManifests m = RenderedManifests.parse("helm remoteClusters", HelmChart.template(HelmChart.example("cluster-a"), Map.of(
                "remoteClusters[0].name", "cluster-b",
                "remoteClusters[0].kubeconfigSecret", "meshgate-remote-cluster-b",
                "remoteClusters[0].gateway", "203.0.113.20:15443")));
        MeshgateConfig.Cluster remote = m.config().discovery().clusters().get(1);

        assertThat(remote.name()).isEqualTo("cluster-b");
        assertThat(remote.remote()).isTrue();
        assertThat(remote.gateway()).isEqualTo("203.0.113.20:15443");
        VolumeMount mount = m.container().getVolumeMounts().stream()
                .filter(v -> remote.kubeconfig().startsWith(v.getMountPath() + "/")).findFirst().orElseThrow();
        Volume volume = m.volumeOf(mount);
        assertThat(volume.getSecret().getSecretName()).isEqualTo("meshgate-remote-cluster-b");
        assertThat(mount.getReadOnly()).isTrue();
        assertThat(remote.kubeconfig()).isEqualTo(mount.getMountPath() + "/" + volume.getSecret().getItems().get(0).getPath());
    }

    @Test
    void allowedIdentitiesReachTheTlsBlockOnlyWhenSet() {
        RenderedManifests m = RenderedManifests.parse("helm allowedIdentities", HelmChart.template(null, Map.of(
                "allowedIdentities[0]", "spiffe://cluster.local/ns/default/*",
                "allowedIdentities[1]", "spiffe://cluster.local/ns/payments/sa/api")));

        assertThat(m.config().tls().allowedIdentities())
                .containsExactly("spiffe://cluster.local/ns/default/*", "spiffe://cluster.local/ns/payments/sa/api");
        RenderedManifests defaults = RenderedManifests.parse("helm defaults", HelmChart.template(null, Map.of()));
        assertThat(defaults.configTree().path("tls").has("allowedIdentities")).isFalse();
    }

    @Test
    void serviceExportModeMayReadServiceExports() {
        RenderedManifests m = RenderedManifests.parse("helm serviceExport",
                HelmChart.template(null, Map.of("exports", "serviceExport")));

        assertThat(m.configTree().path("discovery").path("export").asText()).isEqualTo("serviceExport");
        assertThat(LeastPrivilege.readable(m.only(ClusterRole.class).getRules()))
                .contains("multicluster.x-k8s.io/serviceexports");
    }

    @Test
    void anEmptySourceRangeListIsRefused() {
        assertThatThrownBy(() -> HelmChart.template(null, Map.of("loadBalancer.sourceRanges", "null")))
                .hasMessageContaining("loadBalancer.sourceRanges must not be empty");
    }

    /**
     * Objects by {@code kind namespace/name}, as JSON trees, with what legitimately differs removed:
     * Helm's own labels, Kustomize's content-hash suffix on the ConfigMap name and Helm's config
     * checksum annotation (two ways of rolling the pods on a config change), and meshgate.yaml
     * compared as data (comments and key order aside).
     */
    private static Map<String, JsonNode> normalized(RenderedManifests m) throws IOException {
        String configMap = m.configMap().getMetadata().getName();
        Map<String, JsonNode> byKey = new TreeMap<>();
        for (HasMetadata o : m.objects()) {
            ObjectNode tree = (ObjectNode) YAML.readTree(SERIALIZATION.asYaml(o));
            for (String label : HELM_ONLY_LABELS) {
                withoutLabel(tree, label);
            }
            String name = o.getMetadata().getName().equals(configMap) ? "meshgate-config" : o.getMetadata().getName();
            ((ObjectNode) tree.path("metadata")).put("name", name);
            if (o.getKind().equals("ConfigMap")) {
                ObjectNode data = (ObjectNode) tree.path("data");
                data.set(RenderedManifests.CONFIG_KEY, YAML.readTree(data.path(RenderedManifests.CONFIG_KEY).asText()));
            }
            if (o.getKind().equals("Deployment")) {
                ObjectNode template = (ObjectNode) tree.path("spec").path("template");
                ((ObjectNode) template.path("metadata").path("annotations")).remove("checksum/config");
                for (JsonNode volume : template.path("spec").path("volumes")) {
                    if (volume.path("configMap").path("name").asText().equals(configMap)) {
                        ((ObjectNode) volume.path("configMap")).put("name", "meshgate-config");
                    }
                }
            }
            byKey.put(o.getKind() + " " + (o.getMetadata().getNamespace() == null ? "" : o.getMetadata().getNamespace())
                    + "/" + name, tree);
        }
        return byKey;
    }

    private static void withoutLabel(JsonNode object, String label) {
        JsonNode metadata = object.path("metadata");
        if (metadata.path("labels") instanceof ObjectNode labels) {
            labels.remove(label);
        }
        if (object.path("spec").path("template").path("metadata").path("labels") instanceof ObjectNode labels) {
            labels.remove(label);
        }
    }
}
