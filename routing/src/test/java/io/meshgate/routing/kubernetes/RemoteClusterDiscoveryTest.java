package io.meshgate.routing.kubernetes;

import static io.meshgate.routing.kubernetes.KubernetesObjects.port;
import static io.meshgate.routing.kubernetes.KubernetesObjects.ready;
import static io.meshgate.routing.kubernetes.KubernetesObjects.service;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slice;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slicePort;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.LoadBalancerIngressBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.RemoteCluster;
import io.meshgate.routing.Router;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Remote clusters against real (mock) API servers: gateway address discovery and remote Secrets. */
class RemoteClusterDiscoveryTest {

    static final OutboundSni SNI = new OutboundSni(8080, "", "httpbin.default.svc.cluster.local");

    MockApiServer local;
    MockApiServer remoteApi;
    KubernetesClient localClient;

    @BeforeEach
    void start() {
        local = MockApiServer.start();
        remoteApi = MockApiServer.start();
        localClient = local.newClient();
        remoteApi.apply(service("default", "httpbin", port("http", 8080)),
                slice("default", "httpbin-1", "httpbin", List.of(slicePort("http", 8080)), ready("10.1.0.7")));
    }

    @AfterEach
    void stop() {
        localClient.close();
        local.close();
        remoteApi.close();
    }

    private static String kubeconfig(MockApiServer api) {
        return api.kubeconfig();
    }

    private static Service loadBalancer(String ip, String hostname, int port) {
        return new ServiceBuilder().withNewMetadata().withNamespace("meshgate-system").withName("meshgate").endMetadata()
                .withNewSpec().withType("LoadBalancer").addNewPort().withName("tls-passthrough").withPort(port).endPort().endSpec()
                .withNewStatus().withNewLoadBalancer().withIngress(new LoadBalancerIngressBuilder().withIp(ip).withHostname(hostname).build())
                .endLoadBalancer().endStatus().build();
    }

    @Test
    void discoversTheGatewayFromTheLoadBalancerServiceAndFixedWins() throws Exception {
        remoteApi.apply(loadBalancer("192.0.2.10", null, 15443));
        try (RemoteCluster discovered = RemoteClusters.open("cluster-a", RemoteClusters.kubeconfig(kubeconfig(remoteApi), "test"),
                Optional.empty(), "meshgate-system/meshgate", "cluster.local", new SimpleMeterRegistry());
             RemoteCluster fixed = RemoteClusters.open("cluster-a2", RemoteClusters.kubeconfig(kubeconfig(remoteApi), "test"),
                     Optional.of(Endpoint.parse("198.51.100.1:15443")), "meshgate-system/meshgate", "cluster.local",
                     new SimpleMeterRegistry())) {
            await().atMost(Duration.ofSeconds(10)).until(() -> discovered.gateway().isPresent());
            assertThat(discovered.gateway()).contains(Endpoint.parse("192.0.2.10:15443"));
            assertThat(discovered.gatewaySource()).isEqualTo("discovered");
            assertThat(fixed.gateway()).contains(Endpoint.parse("198.51.100.1:15443"));
            // The address follows the Service.
            remoteApi.apply(loadBalancer("192.0.2.11", null, 16443));
            await().atMost(Duration.ofSeconds(5)).until(() -> discovered.gateway().equals(Optional.of(Endpoint.parse("192.0.2.11:16443"))));
        }
    }

    @Test
    void resolvesAHostnameIngress() {
        assertThat(GatewayService.addressOf(loadBalancer(null, "localhost", 15443)))
                .hasValueSatisfying(e -> assertThat(e.port()).isEqualTo(15443));
        assertThat(GatewayService.addressOf(new ServiceBuilder().withNewMetadata().withName("x").endMetadata().build())).isEmpty();
    }

    @Test
    void remoteSecretsAddAndRemoveClustersAtRuntime() throws Exception {
        Router router = new Router(List.of());
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (RemoteSecrets secrets = new RemoteSecrets(localClient, "meshgate-system", router, "cluster.local", registry).start()) {
            local.apply(new SecretBuilder().withNewMetadata().withNamespace("meshgate-system").withName("meshgate-remote-cluster-a")
                    .addToLabels(RemoteSecrets.LABEL, "true").addToAnnotations(RemoteSecrets.NAME_ANNOTATION, "cluster-a").endMetadata()
                    .addToStringData("kubeconfig", kubeconfig(remoteApi)).addToStringData("gateway", "192.0.2.20:15443").build());
            await().atMost(Duration.ofSeconds(10)).until(() -> !router.remoteGateways(SNI).isEmpty());
            assertThat(router.remotes()).extracting(RemoteCluster::name).containsExactly("cluster-a");
            assertThat(router.remoteGateways(SNI).get(0).gateway()).isEqualTo(Endpoint.parse("192.0.2.20:15443"));

            // A Secret without the label is not ours; a broken one is counted and ignored.
            local.apply(new SecretBuilder().withNewMetadata().withNamespace("meshgate-system").withName("unrelated").endMetadata()
                    .addToStringData("kubeconfig", kubeconfig(remoteApi)).build());
            local.apply(new SecretBuilder().withNewMetadata().withNamespace("meshgate-system").withName("broken")
                    .addToLabels(RemoteSecrets.LABEL, "true").endMetadata().addToStringData("gateway", "x").build());
            await().atMost(Duration.ofSeconds(5)).until(() ->
                    registry.get("meshgate.discovery.remote.secret.failures").counter().count() == 1);
            assertThat(router.remotes()).hasSize(1);

            local.delete(new SecretBuilder().withNewMetadata().withNamespace("meshgate-system").withName("meshgate-remote-cluster-a")
                    .endMetadata().build());
            await().atMost(Duration.ofSeconds(5)).until(() -> router.remotes().isEmpty());
        }
    }

    @Test
    void aReappliedUnchangedSecretKeepsItsClusterAndAChangedOneReplacesIt() throws Exception {
        Router router = new Router(List.of());
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (RemoteSecrets secrets = new RemoteSecrets(localClient, "meshgate-system", router, "cluster.local", registry).start()) {
            SecretBuilder secret = clusterASecret();
            local.apply(secret.build());
            await().atMost(Duration.ofSeconds(10)).until(() -> !router.remoteGateways(SNI).isEmpty());
            RemoteCluster first = router.remotes().get(0);

            // Applied again (new resourceVersion, same link): the cluster and its watches stay.
            local.apply(secret.editMetadata().addToLabels("applied", "again").endMetadata().build());
            await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5)).until(() -> router.remotes().equals(List.of(first)));

            // A changed link replaces it.
            local.apply(secret.removeFromStringData("gateway").addToStringData("gateway", "192.0.2.21:15443").build());
            await().atMost(Duration.ofSeconds(5)).until(() -> !router.remoteGateways(SNI).isEmpty()
                    && router.remoteGateways(SNI).get(0).gateway().equals(Endpoint.parse("192.0.2.21:15443")));
            assertThat(router.remotes()).singleElement().isNotSameAs(first);
        }
    }

    @Test
    void aChangedSecretKeepsTheClustersUpGaugeAndABrokenOneChangesNothing() throws Exception {
        Router router = new Router(List.of());
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (RemoteSecrets secrets = new RemoteSecrets(localClient, "meshgate-system", router, "cluster.local", registry).start()) {
            SecretBuilder secret = clusterASecret();
            local.apply(secret.build());
            await().atMost(Duration.ofSeconds(10)).until(() -> up(registry, "cluster-a") == 1.0);
            RemoteCluster first = router.remotes().get(0);

            // A changed link (a rotated token, a new gateway): the new cluster's gauge is the one registered, and it is up.
            local.apply(secret.removeFromStringData("gateway").addToStringData("gateway", "192.0.2.21:15443").build());
            await().atMost(Duration.ofSeconds(5)).until(() -> router.remotes().size() == 1 && router.remotes().get(0) != first);
            await().atMost(Duration.ofSeconds(10)).until(() -> up(registry, "cluster-a") == 1.0);
            await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5)).until(() -> up(registry, "cluster-a") == 1.0);
            RemoteCluster second = router.remotes().get(0);

            // A broken change (a gateway address that is none): ignored, the link and its gauge stay.
            local.apply(secret.removeFromStringData("gateway").addToStringData("gateway", "not an address").build());
            await().atMost(Duration.ofSeconds(5)).until(() -> registry.counter("meshgate.discovery.remote.secret.failures").count() == 1.0);
            assertThat(router.remotes()).containsExactly(second);
            assertThat(up(registry, "cluster-a")).isEqualTo(1.0);
        }
        assertThat(registry.find("meshgate.cluster.up").gauges()).as("the cluster's meters go with its Secrets").isEmpty();
    }

    /** The remote Secret of cluster-a (the remote mock API server, gateway 192.0.2.20:15443). */
    private SecretBuilder clusterASecret() {
        return new SecretBuilder().withNewMetadata().withNamespace("meshgate-system").withName("meshgate-remote-cluster-a")
                .addToLabels(RemoteSecrets.LABEL, "true").addToAnnotations(RemoteSecrets.NAME_ANNOTATION, "cluster-a").endMetadata()
                .addToStringData("kubeconfig", kubeconfig(remoteApi)).addToStringData("gateway", "192.0.2.20:15443");
    }

    /** {@code meshgate_cluster_up{cluster}}, NaN when not registered. */
    private static double up(SimpleMeterRegistry registry, String cluster) {
        var gauge = registry.find("meshgate.cluster.up").tag("cluster", cluster).gauge();
        return gauge == null ? Double.NaN : gauge.value();
    }
}
