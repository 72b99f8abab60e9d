package io.meshgate.e2e.real;

import static io.meshgate.e2e.real.Workloads.apply;
import static io.meshgate.e2e.real.Workloads.awaitReadyPods;
import static io.meshgate.e2e.real.Workloads.deployment;
import static io.meshgate.e2e.real.Workloads.namespace;
import static io.meshgate.e2e.real.Workloads.service;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.routing.kubernetes.real.ControlPlane;
import io.meshgate.routing.kubernetes.real.RealCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped manifests against a real authorizer: {@code kubectl apply -k} validates them server
 * side, and meshgate running as the ServiceAccount they create (a TokenRequest token) syncs and
 * routes with nothing more; take one verb away and meshgate names what is missing, once.
 */
// Bounded, but above the suite's 60 s default: applying manifests and waiting for controllers adds up.
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@RealCluster
class RealRbacTest {

    static final String SA = "system:serviceaccount:meshgate-system:meshgate";

    @TempDir
    static Path dir;
    static Path deploy;

    @BeforeAll
    static void applyTheShippedManifests(ControlPlane plane) {
        deploy = Path.of("..", "deploy").toAbsolutePath().normalize(); // tests run in src/
        plane.kubectl("apply", "--server-side", "-k", deploy.resolve("base").toString());
        plane.kubectl("apply", "--server-side", "--force-conflicts", "-k", deploy.resolve("overlays/cluster-a").toString());
        apply(plane, namespace("shop"), deployment("shop", "web", 2, 8080), service("shop", "web", 80, "8080", false));
    }

    private static MeshgateProcess meshgate(Path dir, ControlPlane plane, Path kubeconfig) {
        return MeshgateProcess.forCluster(dir, plane.name(), kubeconfig, "  remoteSecrets: {namespace: meshgate-system}\n");
    }

    @Test
    void theShippedRolesAreEnoughAndNoMore(ControlPlane plane) throws Exception {
        Path kubeconfig = ServiceAccountKubeconfig.write(plane, "meshgate-system", "meshgate", dir.resolve("sa.kubeconfig"));
        List<String> pods = awaitReadyPods(plane, "shop", "web", 8080, 2);
        try (MeshgateProcess meshgate = meshgate(dir.resolve("enough"), plane, kubeconfig)) {
            meshgate.awaitReady(Duration.ofSeconds(60));
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(meshgate.resolve("web.shop.svc.cluster.local", 80)).containsExactlyElementsOf(pods));
            assertThat(meshgate.log()).doesNotContain("permission missing").doesNotContain("\tat ");
        }
        // What the roles must not grant (the authorizer's own answer):
        for (String[] denied : new String[][] {
                {"list", "pods"}, {"list", "endpoints"}, {"create", "services"}, {"update", "endpointslices.discovery.k8s.io"},
                {"list", "secrets", "-n", "shop"}, {"create", "secrets", "-n", "meshgate-system"}}) {
            List<String> args = new java.util.ArrayList<>(List.of("auth", "can-i", "--as", SA));
            args.addAll(List.of(denied));
            if (denied.length == 2) {
                args.add("--all-namespaces");
            }
            var r = plane.kubectlResult(plane.kubeconfig(), args.toArray(String[]::new));
            assertThat(r.stdout().trim()).as("can-i %s", String.join(" ", denied)).isEqualTo("no");
        }
    }

    @Test
    void aMissingVerbIsNamedOnceWithoutStackTraces(ControlPlane plane) throws Exception {
        Path kubeconfig = ServiceAccountKubeconfig.write(plane, "meshgate-system", "meshgate", dir.resolve("sa.kubeconfig"));
        plane.kubectl("patch", "clusterrole", "meshgate-discovery", "--type=json", "-p",
                "[{\"op\":\"replace\",\"path\":\"/rules/1/verbs\",\"value\":[\"get\",\"list\"]}]");
        try (MeshgateProcess meshgate = meshgate(dir.resolve("missing"), plane, kubeconfig)) {
            String series = "meshgate_cluster_permission_missing{cluster=\"" + plane.name()
                    + "\",resource=\"endpointslices.discovery.k8s.io\",verb=\"watch\"}";
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                    .until(() -> meshgate.metric(series) == 1.0);
            Thread.sleep(5_000); // retries go on with backoff meanwhile: none of them may log again
            String log = meshgate.log();
            assertThat(log.lines().filter(l -> l.contains("permission missing")).toList()).singleElement().asString()
                    .contains("cluster " + plane.name(), plane.apiUrl(), "verb \"watch\"",
                            "resource \"endpointslices.discovery.k8s.io\"");
            assertThat(log).doesNotContain("\tat ");
            assertThat(meshgate.metric("meshgate_cluster_up{cluster=\"" + plane.name() + "\"}")).isZero();
            assertThat(meshgate.metric("meshgate_cluster_sync_errors_total{cluster=\"" + plane.name()
                    + "\",reason=\"forbidden\"}")).isGreaterThanOrEqualTo(1.0);

            // Granted again: the watch comes up, the gauge goes, and that is said once.
            plane.kubectl("apply", "--server-side", "--force-conflicts", "-k", deploy.resolve("base").toString());
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                    .until(() -> meshgate.metric("meshgate_cluster_up{cluster=\"" + plane.name() + "\"}") == 1.0);
            assertThat(meshgate.metric(series)).isNaN();
            assertThat(meshgate.log()).contains("permission granted now");
        }
    }
}
