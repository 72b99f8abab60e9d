package io.meshgate.routing.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A cluster's published roots followed through its API server: created, changed, key removed, deleted; ConfigMap and Secret. */
@Timeout(60)
class RootsWatchTest {

    @Test
    void followsTheConfigMapKeyAndReportsOnlyChanges() throws Exception {
        try (MockApiServer api = MockApiServer.start(); KubernetesClient client = api.newClient()) {
            List<String> seen = new CopyOnWriteArrayList<>();
            RootsWatch.Source source = new RootsWatch.Source("ConfigMap", "meshgate-system", "meshgate-root", "root-cert.pem");
            try (RootsWatch watch = new RootsWatch("cluster-b", client, source, (c, pem) -> seen.add(c + "=" + pem)).start()) {
                KubernetesClient admin = api.admin(); // generous timeouts: a loaded machine
                admin.configMaps().inNamespace("meshgate-system").resource(new ConfigMapBuilder().withNewMetadata()
                        .withNamespace("meshgate-system").withName("meshgate-root").endMetadata()
                        .addToData("root-cert.pem", "ROOT-1").build()).create();
                await().atMost(Duration.ofSeconds(10)).until(() -> seen.contains("cluster-b=ROOT-1"));
                admin.configMaps().inNamespace("meshgate-system").withName("meshgate-root")
                        .edit(cm -> new ConfigMapBuilder(cm).addToData("unrelated", "x").build());
                admin.configMaps().inNamespace("meshgate-system").withName("meshgate-root")
                        .edit(cm -> new ConfigMapBuilder(cm).addToData("root-cert.pem", "ROOT-1\nROOT-2").build());
                await().atMost(Duration.ofSeconds(10)).until(() -> seen.contains("cluster-b=ROOT-1\nROOT-2"));
                admin.configMaps().inNamespace("meshgate-system").withName("meshgate-root").delete();
                await().atMost(Duration.ofSeconds(10)).until(() -> seen.contains("cluster-b=null"));
                assertThat(seen).containsExactly("cluster-b=ROOT-1", "cluster-b=ROOT-1\nROOT-2", "cluster-b=null");
            }
        }
    }

    @Test
    void readsASecretKey() throws Exception {
        try (MockApiServer api = MockApiServer.start(); KubernetesClient client = api.newClient()) {
            List<String> seen = new CopyOnWriteArrayList<>();
            RootsWatch.Source source = new RootsWatch.Source("Secret", "meshgate-system", "cacerts", "root-cert.pem");
            try (RootsWatch watch = new RootsWatch("cluster-c", client, source, (c, pem) -> seen.add(pem)).start()) {
                KubernetesClient admin = api.admin(); // generous timeouts: a loaded machine
                admin.secrets().inNamespace("meshgate-system").resource(new SecretBuilder().withNewMetadata()
                        .withNamespace("meshgate-system").withName("cacerts").endMetadata()
                        .addToData("root-cert.pem", Base64.getEncoder().encodeToString("PEM".getBytes(StandardCharsets.UTF_8)))
                        .addToData("root-key.pem", "c2VjcmV0").build()).create();
                await().atMost(Duration.ofSeconds(10)).until(() -> seen.contains("PEM"));
            }
        }
    }
}
