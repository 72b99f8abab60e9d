package io.meshgate.routing.kubernetes;

import static io.meshgate.routing.kubernetes.KubernetesObjects.appPort;
import static io.meshgate.routing.kubernetes.KubernetesObjects.endpoint;
import static io.meshgate.routing.kubernetes.KubernetesObjects.externalName;
import static io.meshgate.routing.kubernetes.KubernetesObjects.headless;
import static io.meshgate.routing.kubernetes.KubernetesObjects.notReady;
import static io.meshgate.routing.kubernetes.KubernetesObjects.port;
import static io.meshgate.routing.kubernetes.KubernetesObjects.ready;
import static io.meshgate.routing.kubernetes.KubernetesObjects.selectorless;
import static io.meshgate.routing.kubernetes.KubernetesObjects.service;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slice;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slicePort;
import static io.meshgate.routing.kubernetes.KubernetesObjects.terminating;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.RouteError;
import io.meshgate.routing.RouteTable.RouteEntry;
import io.meshgate.routing.ServiceHost;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The resolution rule of docs/discovery.md, one test per clause, without any API server. */
class ServiceResolverTest {

    private static final String HTTPBIN = "httpbin.default.svc.cluster.local";

    private static ClusterState cluster(List<Service> services, EndpointSlice... slices) {
        return ClusterState.of("cluster.local", services, List.of(slices));
    }

    /** The {@code /debug/resolve} answer: endpoints as strings, or the error code. */
    static List<String> answer(Resolution r) {
        if (r instanceof Resolution.Routed routed) {
            return routed.endpoints().endpoints().stream().map(Object::toString).toList();
        }
        return List.of(((Resolution.Refused) r).error().code());
    }

    private static List<String> answer(ClusterState state, String host, int port) {
        return answer(state.resolve(host, port));
    }

    @Test
    void hostNamesTheServiceIgnoringCase() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.1")));
        assertThat(answer(state, "HttpBin.Default.SVC.Cluster.Local", 8080)).containsExactly("10.0.0.1:80");
    }

    @Test
    void hostOutsideTheClusterDomainOrUnknownServiceIsNoSuchService() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.1")));
        assertThat(answer(state, "httpbin.default.svc.other.local", 8080)).containsExactly("no-such-service");
        assertThat(answer(state, "httpbin.default", 8080)).containsExactly("no-such-service");
        assertThat(answer(state, "other.default.svc.cluster.local", 8080)).containsExactly("no-such-service");
        assertThat(answer(state, "httpbin.prod.svc.cluster.local", 8080)).containsExactly("no-such-service");
    }

    @Test
    void slicesWithoutTheirServiceDoNotMakeOne() {
        ClusterState state = cluster(List.of(),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.1")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("no-such-service");
        assertThat(state.serviceCount()).isZero();
    }

    @Test
    void externalNameServiceIsNeverRouted() {
        ClusterState state = cluster(List.of(externalName("default", "httpbin", "httpbin.org", port("http", 8080))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.1")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("external-name");
        assertThat(answer(state, HTTPBIN, 9999)).containsExactly("external-name");
    }

    @Test
    void sniPortIsTheServicePortNotTheTargetPort() {
        // port("http", 8080) has targetPort 9080; the slice says the container listens on 80.
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.1")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("10.0.0.1:80");
        assertThat(answer(state, HTTPBIN, 9080)).containsExactly("no-such-port");
        assertThat(answer(state, HTTPBIN, 80)).containsExactly("no-such-port");
    }

    @Test
    void udpPortNeverCountsEvenWithTheSameNumberAsATcpPort() {
        ClusterState state = cluster(
                List.of(service("default", "dns", port("dns-udp", 53, "UDP"), port("dns-tcp", 53, "TCP")),
                        service("default", "syslog", port("syslog", 514, "UDP"))),
                slice("default", "dns-1", "dns", List.of(slicePort("dns-udp", 5353, "UDP"), slicePort("dns-tcp", 5354)),
                        ready("10.0.0.1")),
                slice("default", "syslog-1", "syslog", List.of(slicePort("syslog", 514, "UDP")), ready("10.0.0.2")));
        assertThat(answer(state, "dns.default.svc.cluster.local", 53)).containsExactly("10.0.0.1:5354");
        assertThat(answer(state, "syslog.default.svc.cluster.local", 514)).containsExactly("no-such-port");
    }

    @Test
    void absentProtocolMeansTcpOnServiceAndSlicePorts() {
        Service s = service("default", "httpbin", port("http", 8080));
        s.getSpec().getPorts().get(0).setProtocol(null);
        EndpointSlice slice = slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.1"));
        slice.getPorts().get(0).setProtocol(null);
        assertThat(answer(cluster(List.of(s), slice), HTTPBIN, 8080)).containsExactly("10.0.0.1:80");
    }

    @Test
    void slicesBelongByLabelInTheSameNamespaceNotByName() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "whatever-name", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.1")),
                slice("default", "httpbin", null, List.of(slicePort("http", 80)), ready("10.0.0.2")),
                slice("default", "httpbin-x", "other", List.of(slicePort("http", 80)), ready("10.0.0.3")),
                slice("prod", "httpbin-y", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.4")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("10.0.0.1:80");
    }

    @Test
    void sameNameInTwoNamespacesAreTwoServices() {
        ClusterState state = cluster(
                List.of(service("default", "httpbin", port("http", 8080)), service("prod", "httpbin", port("http", 8080))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.1")),
                slice("prod", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), ready("10.1.0.1")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("10.0.0.1:80");
        assertThat(answer(state, "httpbin.prod.svc.cluster.local", 8080)).containsExactly("10.1.0.1:80");
    }

    @Test
    void ipv6SlicesResolveInBracketsAndDualStackUsesBothFamilies() {
        ClusterState state = cluster(
                List.of(service("default", "v6", port("http", 8080)), service("default", "dual", port("http", 8080))),
                slice("default", "v6-1", "v6", "IPv6", List.of(slicePort("http", 80)), ready("fd00::5")),
                slice("default", "dual-4", "dual", "IPv4", List.of(slicePort("http", 80)), ready("10.0.0.1")),
                slice("default", "dual-6", "dual", "IPv6", List.of(slicePort("http", 80)), ready("fd00::1")));
        assertThat(answer(state, "v6.default.svc.cluster.local", 8080)).containsExactly("[fd00::5]:80");
        assertThat(answer(state, "dual.default.svc.cluster.local", 8080)).containsExactly("10.0.0.1:80", "[fd00::1]:80");
    }

    @Test
    void fqdnSlicesAreIgnored() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-fqdn", "httpbin", "FQDN", List.of(slicePort("http", 80)), ready("example.com")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("no-healthy-endpoints");
    }

    @Test
    void namedPortTakesEachSlicesOwnContainerPort() {
        ClusterState state = cluster(List.of(service("default", "web", port("http", 80))),
                slice("default", "web-old", "web", List.of(slicePort("http", 8080)), ready("10.0.0.1")),
                slice("default", "web-new", "web", List.of(slicePort("http", 9090)), ready("10.0.0.2")));
        assertThat(answer(state, "web.default.svc.cluster.local", 80)).containsExactly("10.0.0.1:8080", "10.0.0.2:9090");
    }

    @Test
    void multiPortServiceResolvesEachPortByItsName() {
        ClusterState state = cluster(List.of(service("default", "web", port("http", 80), port("grpc", 9000))),
                slice("default", "web-1", "web", List.of(slicePort("grpc", 50051), slicePort("http", 8080)),
                        ready("10.0.0.1")));
        assertThat(answer(state, "web.default.svc.cluster.local", 80)).containsExactly("10.0.0.1:8080");
        assertThat(answer(state, "web.default.svc.cluster.local", 9000)).containsExactly("10.0.0.1:50051");
        assertThat(answer(state, "web.default.svc.cluster.local", 81)).containsExactly("no-such-port");
    }

    @Test
    void unnamedServicePortMatchesTheUnnamedSlicePort() {
        ClusterState state = cluster(List.of(service("default", "web", port(null, 80))),
                slice("default", "web-1", "web", List.of(slicePort("", 8080)), ready("10.0.0.1")),
                slice("default", "web-2", "web", List.of(slicePort("http", 9090)), ready("10.0.0.2")));
        assertThat(answer(state, "web.default.svc.cluster.local", 80)).containsExactly("10.0.0.1:8080");
    }

    @Test
    void absentConditionsMeanReadyAndServing() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)),
                        endpoint("10.0.0.1"), KubernetesObjects.endpoint("10.0.0.2", null, null, null)));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("10.0.0.1:80", "10.0.0.2:80");
    }

    @Test
    void notReadyEndpointsAreExcluded() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)),
                        ready("10.0.0.1"), notReady("10.0.0.2")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("10.0.0.1:80");
    }

    @Test
    void onlyNotReadyEndpointsIsNoHealthyEndpoints() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), notReady("10.0.0.2")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("no-healthy-endpoints");
    }

    @Test
    void withoutReadyEndpointsServingTerminatingOnesTakeTraffic() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)),
                        terminating("10.0.0.1", true), terminating("10.0.0.2", false), notReady("10.0.0.3")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("10.0.0.1:80");
    }

    @Test
    void terminatingFallbackIsDecidedPerServiceNotPerSlice() {
        // One slice has only a serving-terminating endpoint, another a ready one: the Service has a
        // ready endpoint, so the terminating one gets nothing.
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-a", "httpbin", List.of(slicePort("http", 80)), terminating("10.0.0.1", true)),
                slice("default", "httpbin-b", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.2")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("10.0.0.2:80");
    }

    @Test
    void terminatingFallbackIsDecidedPerServicePort() {
        // Port http has a ready endpoint; port admin only a terminating one (another slice port set).
        ClusterState state = cluster(List.of(service("default", "web", port("http", 80), port("admin", 81))),
                slice("default", "web-a", "web", List.of(slicePort("http", 8080)), ready("10.0.0.1")),
                slice("default", "web-b", "web", List.of(slicePort("admin", 8081)), terminating("10.0.0.2", true)));
        assertThat(answer(state, "web.default.svc.cluster.local", 80)).containsExactly("10.0.0.1:8080");
        assertThat(answer(state, "web.default.svc.cluster.local", 81)).containsExactly("10.0.0.2:8081");
    }

    @Test
    void onlyTheFirstAddressOfAnEndpointIsUsed() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), endpoint("10.0.0.1", "10.0.0.9")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("10.0.0.1:80");
    }

    @Test
    void duplicateEndpointAcrossSlicesCountsOnceAndIsRoutableIfAnyCopyIs() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-a", "httpbin", List.of(slicePort("http", 80)), notReady("10.0.0.1"), ready("10.0.0.2")),
                slice("default", "httpbin-b", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.1"), ready("10.0.0.2")));
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("10.0.0.1:80", "10.0.0.2:80");
        assertThat(state.endpointCount()).isEqualTo(2);
    }

    @Test
    void topologyNeverDropsAnEndpoint() {
        EndpointSlice slice = slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)));
        slice.setEndpoints(List.of(new EndpointBuilder().withAddresses("10.0.0.1").withNodeName("node-elsewhere")
                .withZone("zone-b").withNewHints().addNewForZone("zone-c").endHints().build()));
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))), slice);
        assertThat(answer(state, HTTPBIN, 8080)).containsExactly("10.0.0.1:80");
    }

    @Test
    void headlessServiceResolvesLikeAnyOther() {
        ClusterState state = cluster(List.of(headless("default", "db", port("pg", 5432))),
                slice("default", "db-1", "db", List.of(slicePort("pg", 5432)), ready("10.0.0.1"), ready("10.0.0.2")));
        assertThat(answer(state, "db.default.svc.cluster.local", 5432)).containsExactly("10.0.0.1:5432", "10.0.0.2:5432");
    }

    @Test
    void selectorlessServiceUsesItsHandMadeSlice() {
        ClusterState state = cluster(List.of(selectorless("default", "legacy", port("tcp", 3306))),
                slice("default", "legacy-manual", "legacy", List.of(slicePort("tcp", 3306)), ready("192.168.10.5")));
        assertThat(answer(state, "legacy.default.svc.cluster.local", 3306)).containsExactly("192.168.10.5:3306");
    }

    @Test
    void serviceWithoutSlicesHasNoHealthyEndpoints() {
        // An "Endpoints-only" Service: whatever the v1 Endpoints API says, without slices nothing routes.
        ClusterState state = cluster(List.of(selectorless("default", "legacy", port("tcp", 3306))));
        assertThat(answer(state, "legacy.default.svc.cluster.local", 3306)).containsExactly("no-healthy-endpoints");
    }

    @Test
    void endpointsAreSortedByStringOrderWithoutDuplicates() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080))),
                slice("default", "httpbin-4", "httpbin", "IPv4", List.of(slicePort("http", 80)),
                        ready("10.0.0.9"), ready("10.0.0.10"), ready("9.0.0.1")),
                slice("default", "httpbin-6", "httpbin", "IPv6", List.of(slicePort("http", 80)), ready("fd00::a")));
        assertThat(answer(state, HTTPBIN, 8080))
                .containsExactly("10.0.0.10:80", "10.0.0.9:80", "9.0.0.1:80", "[fd00::a]:80");
    }

    @Test
    void appProtocolComesFromAppProtocolOrThePortNamePrefix() {
        ClusterState state = cluster(List.of(service("default", "web", appPort("web", 80, "http"),
                        port("grpc-api", 9000), port("http2-x", 9001), port("mysql", 3306))),
                slice("default", "web-1", "web", List.of(slicePort("web", 8080), slicePort("grpc-api", 50051),
                        slicePort("http2-x", 50052), slicePort("mysql", 3306)), ready("10.0.0.1")));
        assertThat(state.entries()).extracting(RouteEntry::port, RouteEntry::protocol).containsExactly(
                org.assertj.core.groups.Tuple.tuple(80, AppProtocol.HTTP),
                org.assertj.core.groups.Tuple.tuple(3306, AppProtocol.TCP),
                org.assertj.core.groups.Tuple.tuple(9000, AppProtocol.GRPC),
                org.assertj.core.groups.Tuple.tuple(9001, AppProtocol.HTTP2));
        Resolution r = state.resolve("web.default.svc.cluster.local", 9000);
        assertThat(((Resolution.Routed) r).endpoints().protocol()).isEqualTo(AppProtocol.GRPC);
    }

    @Test
    void entriesListEveryTcpServicePortIncludingUnroutableOnes() {
        ClusterState state = cluster(List.of(service("default", "httpbin", port("http", 8080), port("dns", 53, "UDP")),
                        service("prod", "empty", port("http", 80))),
                slice("default", "httpbin-abc", "httpbin", List.of(slicePort("http", 80)), ready("10.0.0.1")));
        assertThat(state.entries()).containsExactly(
                new RouteEntry("empty.prod.svc.cluster.local", 80, AppProtocol.HTTP, List.of()),
                new RouteEntry(HTTPBIN, 8080, AppProtocol.HTTP, List.of(io.meshgate.routing.Endpoint.of("10.0.0.1", 80))));
    }

    @Test
    void changingOneServiceLeavesTheOthersAndTheOldSnapshotAlone() {
        ClusterState before = cluster(List.of(service("default", "a", port("http", 80)), service("default", "b", port("http", 80))),
                slice("default", "a-1", "a", List.of(slicePort("http", 8080)), ready("10.0.0.1")),
                slice("default", "b-1", "b", List.of(slicePort("http", 8080)), ready("10.0.0.2"), ready("10.0.0.3")));
        ServiceHost a = new ServiceHost("a", "default");
        ClusterState after = before.with(Map.of(a, ServiceResolver.routes(service("default", "a", port("http", 80)),
                List.of(slice("default", "a-1", "a", List.of(slicePort("http", 8080)), notReady("10.0.0.1"))))), List.of());
        assertThat(answer(after, "a.default.svc.cluster.local", 80)).containsExactly("no-healthy-endpoints");
        assertThat(answer(before, "a.default.svc.cluster.local", 80)).containsExactly("10.0.0.1:8080");
        assertThat(after.service(new ServiceHost("b", "default"))).isSameAs(before.service(new ServiceHost("b", "default")));
        assertThat(after.endpointCount()).isEqualTo(2);
        ClusterState gone = after.with(Map.of(), List.of(new ServiceHost("b", "default")));
        assertThat(gone.serviceCount()).isEqualTo(1);
        assertThat(gone.endpointCount()).isZero();
        assertThat(answer(gone, "b.default.svc.cluster.local", 80)).containsExactly("no-such-service");
    }

    @Test
    void refusalCodesAreTheContractOnes() {
        assertThat(RouteError.NO_HEALTHY_ENDPOINTS.code()).isEqualTo("no-healthy-endpoints");
    }
}
