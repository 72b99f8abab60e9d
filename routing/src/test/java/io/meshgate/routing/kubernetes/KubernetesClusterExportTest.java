package io.meshgate.routing.kubernetes;

import static io.meshgate.routing.kubernetes.KubernetesObjects.port;
import static io.meshgate.routing.kubernetes.KubernetesObjects.ready;
import static io.meshgate.routing.kubernetes.KubernetesObjects.service;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slice;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slicePort;
import static io.meshgate.routing.kubernetes.ServiceResolverTest.answer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.RemoteCluster;
import io.meshgate.routing.Router;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Exports through informers: labels on Services and Namespaces, and ServiceExports, written to a
 * CRUD mock API server move routes in and out of the published table; a missing ServiceExport
 * CRD leaves the cluster ready with nothing exported.
 */
class KubernetesClusterExportTest {

    private MockApiServer api;
    private KubernetesClient client;
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final Logger exportLog = (Logger) LoggerFactory.getLogger(ExportWatch.class);
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();

    @BeforeEach
    void start() {
        api = MockApiServer.start();
        client = api.newClient();
        // The mock's first request in a fresh JVM can outlast the client's 3 s timeout on a loaded machine.
        await().atMost(Duration.ofSeconds(30)).ignoreExceptions().until(() -> client.namespaces().list() != null);
        logs.start();
        exportLog.addAppender(logs);
    }

    @AfterEach
    void stop() {
        exportLog.detachAppender(logs);
        client.close();
        api.close();
    }

    private KubernetesCluster cluster(ExportPolicy policy) {
        KubernetesCluster c = new KubernetesCluster("east", client, List.of(), policy, "cluster.local", registry).start();
        await().atMost(Duration.ofSeconds(10)).until(c::synced);
        return c;
    }

    private List<String> warnings() {
        return logs.list.stream().filter(e -> e.getLevel().toString().equals("WARN")).map(ILoggingEvent::getFormattedMessage).toList();
    }

    private static Service labelled(Service s, String exportLabel) {
        s.getMetadata().setLabels(Map.of(ExportPolicy.LABEL, exportLabel));
        return s;
    }

    private void web(String namespace, Map<String, String> labels) {
        Service s = service(namespace, "web", port("http", 80));
        s.getMetadata().setLabels(labels); // empty: no export label at all
        api.apply(s, slice(namespace, "web-1", "web", List.of(slicePort("http", 8080)), ready("10.0.0.1")));
    }

    private static Namespace namespace(String name, Map<String, String> labels) {
        return new NamespaceBuilder().withNewMetadata().withName(name).withLabels(labels).endMetadata().build();
    }

    private static GenericKubernetesResource serviceExport(String namespace, String name) {
        return new GenericKubernetesResourceBuilder().withApiVersion("multicluster.x-k8s.io/v1alpha1").withKind("ServiceExport")
                .withNewMetadata().withNamespace(namespace).withName(name).endMetadata().build();
    }

    private io.fabric8.kubernetes.client.dsl.MixedOperation<GenericKubernetesResource, ?, ?> serviceExports() {
        return client.genericKubernetesResources(ExportWatch.SERVICE_EXPORT);
    }

    private static void awaitAnswer(KubernetesCluster c, String host, int port, String... expected) {
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10)).untilAsserted(() ->
                assertThat(answer(c.current().resolve(host, port))).containsExactly(expected));
    }

    private double unexported() {
        return registry.get("meshgate.discovery.services.unexported").tag("cluster", "east").gauge().value();
    }

    @Test
    void aServiceLabelMovesItsRouteInAndOut() {
        api.apply(namespace("shop", Map.of()));
        web("shop", Map.of());
        try (KubernetesCluster c = cluster(ExportPolicy.LABELLED)) {
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "no-such-service");
            assertThat(unexported()).isEqualTo(1);
            web("shop", Map.of(ExportPolicy.LABEL, "true"));
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "10.0.0.1:8080");
            assertThat(unexported()).isZero();
            web("shop", Map.of());
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "no-such-service");
        }
    }

    @Test
    void aNamespaceLabelExportsItsServicesExceptThoseThatOptOut() {
        api.apply(namespace("shop", Map.of()));
        web("shop", Map.of());
        api.apply(service("shop", "db", port("tcp", 5432)));
        try (KubernetesCluster c = cluster(ExportPolicy.LABELLED)) {
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "no-such-service");
            api.apply(namespace("shop", Map.of(ExportPolicy.LABEL, "true")));
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "10.0.0.1:8080");
            awaitAnswer(c, "db.shop.svc.cluster.local", 5432, "no-healthy-endpoints");
            api.apply(labelled(service("shop", "db", port("tcp", 5432)), "false"));
            awaitAnswer(c, "db.shop.svc.cluster.local", 5432, "no-such-service");
            api.apply(namespace("shop", Map.of("team", "shop")));
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "no-such-service");
        }
    }

    @Test
    void theApiServerAndKubeSystemStayHiddenInALabelledNamespaceUntilLabelledThemselves() {
        api.apply(namespace("default", Map.of(ExportPolicy.LABEL, "true")),
                namespace("kube-system", Map.of(ExportPolicy.LABEL, "true")),
                service("default", "kubernetes", port("https", 443)),
                slice("default", "kubernetes", "kubernetes", List.of(slicePort("https", 6443)), ready("172.18.0.2")),
                service("kube-system", "kube-dns", port("dns-tcp", 53)));
        web("default", Map.of());
        try (KubernetesCluster c = cluster(ExportPolicy.LABELLED)) {
            awaitAnswer(c, "web.default.svc.cluster.local", 80, "10.0.0.1:8080");
            awaitAnswer(c, "kubernetes.default.svc.cluster.local", 443, "no-such-service");
            awaitAnswer(c, "kube-dns.kube-system.svc.cluster.local", 53, "no-such-service");
            api.apply(labelled(service("default", "kubernetes", port("https", 443)), "true"));
            awaitAnswer(c, "kubernetes.default.svc.cluster.local", 443, "172.18.0.2:6443");
        }
    }

    @Test
    void allStillHidesTheApiServer() {
        api.apply(service("default", "kubernetes", port("https", 443)),
                slice("default", "kubernetes", "kubernetes", List.of(slicePort("https", 6443)), ready("172.18.0.2")));
        web("shop", Map.of());
        try (KubernetesCluster c = cluster(ExportPolicy.ALL)) {
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "10.0.0.1:8080");
            awaitAnswer(c, "kubernetes.default.svc.cluster.local", 443, "no-such-service");
        }
    }

    @Test
    void aServiceExportMovesItsRouteInAndOut() {
        web("shop", Map.of(ExportPolicy.LABEL, "true"));
        try (KubernetesCluster c = cluster(ExportPolicy.SERVICE_EXPORT)) {
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "no-such-service");
            serviceExports().resource(serviceExport("shop", "web")).create();
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "10.0.0.1:8080");
            serviceExports().resource(serviceExport("shop", "web")).delete();
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "no-such-service");
        }
    }

    @Test
    void aRemoteClustersUnexportedServiceIsNoDestination() throws Exception {
        web("default", Map.of());
        OutboundSni sni = OutboundSni.parse("outbound_.80_._.web.default.svc.cluster.local").orElseThrow();
        Router router = new Router(List.of());
        try (RemoteCluster remote = RemoteClusters.open("west", RemoteClusters.kubeconfig(api.kubeconfig(), "test"),
                Optional.of(Endpoint.parse("192.0.2.20:15443")), "meshgate-system/meshgate", ExportPolicy.LABELLED,
                "cluster.local", registry)) {
            router.addSource(remote);
            await().atMost(Duration.ofSeconds(10)).until(remote::synced);
            assertThat(router.remoteGateways(sni)).isEmpty();
            web("default", Map.of(ExportPolicy.LABEL, "true"));
            await().atMost(Duration.ofSeconds(5)).until(() -> !router.remoteGateways(sni).isEmpty());
            assertThat(router.remoteGateways(sni).get(0).cluster()).isEqualTo("west");
        }
    }

    @Test
    void aMissingServiceExportCrdIsReportedOnceAndTheClusterStillSyncs() {
        web("shop", Map.of(ExportPolicy.LABEL, "true"));
        api.stopServing("/serviceexports");
        try (KubernetesCluster c = cluster(ExportPolicy.SERVICE_EXPORT)) {
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "no-such-service");
            assertThat(unexported()).isEqualTo(1);
            // meshgate re-checks with backoff meanwhile: still one line, no stack trace.
            await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).until(() -> true);
            assertThat(warnings()).hasSize(1);
            assertThat(warnings().get(0)).contains("cluster east", "serviceexports.multicluster.x-k8s.io", "404",
                    "install the CRD", "discovery.export: labelled");
            assertThat(logs.list).allMatch(e -> e.getThrowableProxy() == null);

            // The CRD is installed later: the retrying informer lists it and exports follow, no restart.
            api.serve("/serviceexports");
            serviceExports().resource(serviceExport("shop", "web")).create();
            await().atMost(Duration.ofSeconds(40)).pollInterval(Duration.ofMillis(50)).untilAsserted(() ->
                    assertThat(answer(c.current().resolve("web.shop.svc.cluster.local", 80))).containsExactly("10.0.0.1:8080"));
        }
    }

    @Test
    void withoutRbacOnNamespacesOnlyServicesLabelledThemselvesAreExported() {
        api.apply(namespace("shop", Map.of(ExportPolicy.LABEL, "true")));
        web("shop", Map.of());
        web("pay", Map.of(ExportPolicy.LABEL, "true"));
        api.stopServing("/api/v1/namespaces?", 403);
        try (KubernetesCluster c = cluster(ExportPolicy.LABELLED)) {
            awaitAnswer(c, "web.pay.svc.cluster.local", 80, "10.0.0.1:8080");
            awaitAnswer(c, "web.shop.svc.cluster.local", 80, "no-such-service");
            assertThat(warnings()).singleElement().asString()
                    .contains("cluster east", "Namespaces", "403", "grant list/watch on namespaces");
        }
    }
}
