package io.meshgate.routing.kubernetes;

import static io.meshgate.routing.kubernetes.KubernetesObjects.port;
import static io.meshgate.routing.kubernetes.KubernetesObjects.ready;
import static io.meshgate.routing.kubernetes.KubernetesObjects.service;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slice;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slicePort;
import static io.meshgate.routing.kubernetes.ServiceResolverTest.answer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the gateway does when the API server goes away, what it exports, and what it reports. */
class KubernetesClusterResilienceTest {

    private static final String WEB = "web.default.svc.cluster.local";

    private MockApiServer api;
    private KubernetesClient client;

    @BeforeEach
    void startApiServer() {
        api = MockApiServer.start();
        client = api.newClient();
    }

    @AfterEach
    void stopApiServer() {
        client.close();
        api.close();
    }

    private static void awaitAnswer(KubernetesCluster cluster, String host, int port, String... expected) {
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(10)).untilAsserted(() ->
                assertThat(answer(cluster.current().resolve(host, port))).containsExactly(expected));
    }

    @Test
    void keepsTheLastRoutesWhileTheApiServerIsDownAndCatchesUpWhenItIsBack() {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (KubernetesCluster cluster = new KubernetesCluster("a", client, List.of(), "cluster.local", registry).start()) {
            api.apply(service("default", "web", port("http", 80)),
                    slice("default", "web-1", "web", List.of(slicePort("http", 8080)), ready("10.0.0.1")));
            awaitAnswer(cluster, WEB, 80, "10.0.0.1:8080");

            api.stop();
            api.changeWhileDown(a -> a.apply(
                    slice("default", "web-1", "web", List.of(slicePort("http", 8080)), ready("10.0.0.2"))));
            await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(50))
                    .untilAsserted(() -> assertThat(answer(cluster.current().resolve(WEB, 80))).containsExactly("10.0.0.1:8080"));
            assertThat(cluster.synced()).isTrue();

            api.restart();
            awaitAnswer(cluster, WEB, 80, "10.0.0.2:8080");
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(registry.get("meshgate.discovery.watch.reconnects")
                    .tag("cluster", "a").counter().count()).isGreaterThanOrEqualTo(1));
        }
    }

    @Test
    void startedWhileTheApiServerIsDownSyncsOnceItIsUp() {
        api.apply(service("default", "web", port("http", 80)),
                slice("default", "web-1", "web", List.of(slicePort("http", 8080)), ready("10.0.0.1")));
        api.stop();
        try (KubernetesCluster cluster = new KubernetesCluster("a", client, List.of(), "cluster.local",
                new SimpleMeterRegistry()).start()) {
            await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> !cluster.synced());
            assertThat(answer(cluster.current().resolve(WEB, 80))).containsExactly("no-such-service");
            api.restart();
            await().atMost(Duration.ofSeconds(10)).until(cluster::synced);
            assertThat(answer(cluster.current().resolve(WEB, 80))).containsExactly("10.0.0.1:8080");
        }
    }

    @Test
    void namespaceAllowListExportsOnlyTheListedNamespaces() {
        api.apply(service("exported", "web", port("http", 80)),
                slice("exported", "web-1", "web", List.of(slicePort("http", 8080)), ready("10.0.0.1")),
                service("private", "web", port("http", 80)),
                slice("private", "web-1", "web", List.of(slicePort("http", 8080)), ready("10.0.0.2")));
        try (KubernetesCluster cluster = new KubernetesCluster("a", client, List.of("exported"), "cluster.local",
                new SimpleMeterRegistry()).start()) {
            await().atMost(Duration.ofSeconds(10)).until(cluster::synced);
            assertThat(answer(cluster.current().resolve("web.exported.svc.cluster.local", 80))).containsExactly("10.0.0.1:8080");
            assertThat(answer(cluster.current().resolve("web.private.svc.cluster.local", 80))).containsExactly("no-such-service");
            api.apply(service("private", "db", port("pg", 5432)), service("exported", "db", port("pg", 5432)));
            awaitAnswer(cluster, "db.exported.svc.cluster.local", 5432, "no-healthy-endpoints");
            assertThat(cluster.state().serviceCount()).isEqualTo(2);
        }
    }

    @Test
    void reportsSyncServicesEndpointsAndEventAgePerCluster() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        api.apply(service("default", "web", port("http", 80), port("admin", 81)),
                slice("default", "web-1", "web", List.of(slicePort("http", 8080), slicePort("admin", 8081)),
                        ready("10.0.0.1"), ready("10.0.0.2")));
        try (KubernetesCluster cluster = new KubernetesCluster("east", client, List.of(), "cluster.local", registry).start()) {
            await().atMost(Duration.ofSeconds(10)).until(cluster::synced);
            String text = registry.scrape();
            assertThat(text).contains("meshgate_discovery_synced{cluster=\"east\"} 1.0")
                    .contains("meshgate_discovery_services{cluster=\"east\"} 1.0")
                    .contains("meshgate_discovery_endpoints{cluster=\"east\"} 4.0")
                    .contains("meshgate_discovery_watch_reconnects_total{cluster=\"east\"} 0.0")
                    .contains("meshgate_discovery_last_event_age_seconds{cluster=\"east\"}");
        }
        assertThat(registry.scrape()).doesNotContain("cluster=\"east\"");
    }

    @Test
    void unreadableKubeconfigIsRefusedNamingTheFile(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.yaml");
        assertThatThrownBy(() -> new KubernetesCluster("a", Optional.of(missing), List.of(), ExportPolicy.ALL, "cluster.local",
                new SimpleMeterRegistry())).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(missing.toString());
        Path kubeconfig = dir.resolve("kubeconfig.yaml");
        Files.writeString(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters:
                - name: mock
                  cluster: {server: "http://127.0.0.1:%d"}
                contexts:
                - name: mock
                  context: {cluster: mock, user: nobody}
                current-context: mock
                users:
                - name: nobody
                  user: {}
                """.formatted(api.port()));
        api.apply(service("default", "web", port("http", 80)),
                slice("default", "web-1", "web", List.of(slicePort("http", 8080)), ready("10.0.0.1")));
        try (KubernetesCluster cluster = new KubernetesCluster("a", Optional.of(kubeconfig), List.of(), ExportPolicy.ALL, "cluster.local",
                new SimpleMeterRegistry()).start()) {
            awaitAnswer(cluster, WEB, 80, "10.0.0.1:8080");
        }
    }
}
