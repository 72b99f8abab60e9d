package io.meshgate.routing.kubernetes;

import static io.meshgate.routing.kubernetes.KubernetesObjects.port;
import static io.meshgate.routing.kubernetes.KubernetesObjects.ready;
import static io.meshgate.routing.kubernetes.KubernetesObjects.service;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slice;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slicePort;
import static io.meshgate.routing.kubernetes.ServiceResolverTest.answer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Service;
import io.meshgate.routing.RouteTable;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The export rule as a pure function: Service labels, namespace labels, ServiceExports, protected Services. */
class ExportPolicyTest {

    private static final Map<String, String> LABELLED_NS = Map.of(ExportPolicy.LABEL, "true");

    private static Service labelled(String namespace, String name, String value) {
        Service s = service(namespace, name, port("http", 80));
        s.getMetadata().setLabels(Map.of(ExportPolicy.LABEL, value));
        return s;
    }

    @Test
    void labelledExportsAServiceLabelledItselfOrInALabelledNamespace() {
        ExportPolicy p = ExportPolicy.LABELLED;
        assertThat(p.exports(service("shop", "web", port("http", 80)), Map.of(), false)).isFalse();
        assertThat(p.exports(service("shop", "web", port("http", 80)), Map.of(), true)).as("a ServiceExport is not a label").isFalse();
        assertThat(p.exports(labelled("shop", "web", "true"), Map.of(), false)).isTrue();
        assertThat(p.exports(service("shop", "web", port("http", 80)), LABELLED_NS, false)).isTrue();
        assertThat(p.exports(service("shop", "web", port("http", 80)), Map.of(ExportPolicy.LABEL, "false"), false)).isFalse();
        assertThat(p.exports(service("shop", "web", port("http", 80)), Map.of("other", "true"), false)).isFalse();
    }

    @Test
    void aServicesOwnLabelOptsItOutOfALabelledNamespace() {
        assertThat(ExportPolicy.LABELLED.exports(labelled("shop", "db", "false"), LABELLED_NS, false)).isFalse();
        assertThat(ExportPolicy.ALL.exports(labelled("shop", "db", "false"), Map.of(), false)).isFalse();
    }

    @Test
    void serviceExportExportsExactlyWhenTheServiceExportExists() {
        ExportPolicy p = ExportPolicy.SERVICE_EXPORT;
        assertThat(p.exports(service("shop", "web", port("http", 80)), Map.of(), true)).isTrue();
        assertThat(p.exports(service("shop", "web", port("http", 80)), Map.of(), false)).isFalse();
        assertThat(p.exports(labelled("shop", "web", "true"), LABELLED_NS, false)).as("labels do not count").isFalse();
        assertThat(p.exports(service("kube-system", "kube-dns", port("dns", 53)), Map.of(), true))
                .as("a ServiceExport names one Service: explicit enough even in kube-system").isTrue();
    }

    @Test
    void allExportsEveryServiceExceptProtectedOnes() {
        ExportPolicy p = ExportPolicy.ALL;
        assertThat(p.exports(service("shop", "web", port("http", 80)), Map.of(), false)).isTrue();
        assertThat(p.exports(service("default", "kubernetes", port("https", 443)), Map.of(), false)).isFalse();
        assertThat(p.exports(service("kube-system", "kube-dns", port("dns", 53)), Map.of(), false)).isFalse();
        assertThat(p.exports(service("default", "web", port("http", 80)), Map.of(), false)).isTrue();
    }

    @Test
    void protectedServicesNeedTheirOwnLabelNeverTheNamespaces() {
        for (ExportPolicy p : List.of(ExportPolicy.LABELLED, ExportPolicy.ALL)) {
            assertThat(p.exports(service("default", "kubernetes", port("https", 443)), LABELLED_NS, false)).as(p.name()).isFalse();
            assertThat(p.exports(service("kube-system", "metrics-server", port("https", 443)), LABELLED_NS, false)).as(p.name()).isFalse();
            assertThat(p.exports(labelled("default", "kubernetes", "true"), Map.of(), false)).as(p.name()).isTrue();
            assertThat(p.exports(labelled("kube-system", "metrics-server", "true"), LABELLED_NS, false)).as(p.name()).isTrue();
        }
        assertThat(ExportPolicy.isProtected("default", "kubernetes")).isTrue();
        assertThat(ExportPolicy.isProtected("other", "kubernetes")).isFalse();
    }

    @Test
    void configNamesRoundTripAndAnUnknownOneListsTheValidOnes() {
        for (ExportPolicy p : ExportPolicy.values()) {
            assertThat(ExportPolicy.of(p.configName())).isEqualTo(p);
        }
        assertThatThrownBy(() -> ExportPolicy.of("everything"))
                .hasMessageContaining("labelled, serviceExport or all").hasMessageContaining("everything");
    }

    @Test
    void theSnapshotLeavesOutWhatIsNotExportedSoItAnswersNoSuchService() {
        Service web = labelled("shop", "web", "true");
        Service db = service("shop", "db", port("http", 80));
        Service api = service("default", "kubernetes", port("https", 443));
        Set<String> exportedNamespaces = Set.of();
        ClusterState state = ClusterState.of("cluster.local", List.of(web, db, api),
                List.of(slice("shop", "web-1", "web", List.of(slicePort("http", 8080)), ready("10.0.0.1")),
                        slice("shop", "db-1", "db", List.of(slicePort("http", 8080)), ready("10.0.0.2")),
                        slice("default", "kubernetes", "kubernetes", List.of(slicePort("https", 6443)), ready("172.18.0.2"))),
                s -> ExportPolicy.LABELLED.exports(s,
                        exportedNamespaces.contains(s.getMetadata().getNamespace()) ? LABELLED_NS : Map.of(), false));
        assertThat(answer(state.resolve("web.shop.svc.cluster.local", 80))).containsExactly("10.0.0.1:8080");
        assertThat(answer(state.resolve("db.shop.svc.cluster.local", 80))).containsExactly("no-such-service");
        assertThat(answer(state.resolve("kubernetes.default.svc.cluster.local", 443))).containsExactly("no-such-service");
        assertThat(state.entries()).extracting(RouteTable.RouteEntry::host).containsExactly("web.shop.svc.cluster.local");
        assertThat(state.serviceCount()).isEqualTo(1);
        assertThat(state.endpointCount()).isEqualTo(1);
    }
}
