package io.meshgate.e2e.real;

import static io.meshgate.e2e.real.Workloads.apply;
import static io.meshgate.e2e.real.Workloads.awaitReadyPods;
import static io.meshgate.e2e.real.Workloads.deployment;
import static io.meshgate.e2e.real.Workloads.namespace;
import static io.meshgate.e2e.real.Workloads.pod;
import static io.meshgate.e2e.real.Workloads.service;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.routing.kubernetes.real.ControlPlane;
import io.meshgate.routing.kubernetes.real.RealCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Discovery on a real control plane: Deployments and Services applied with kubectl, pods run by
 * kwok, EndpointSlices written by kube-controller-manager's controller, read by the built jar.
 */
// Bounded, but above the suite's 60 s default: applying manifests and waiting for controllers adds up.
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@RealCluster
class RealDiscoveryTest {

    /**
     * How soon a change the cluster shows must show in meshgate's answer. It covers the controller
     * manager's EndpointSlice update as well as meshgate's watch where a test does not wait for
     * the slice first.
     */
    static final Duration PROPAGATION = Duration.ofSeconds(5);

    /** How long the controller manager may take to reflect a pod change in its EndpointSlices. */
    static final Duration SLICE_UPDATE = Duration.ofSeconds(60);

    /** The addresses the Service's EndpointSlices list with condition ready (absent counts as ready, as the API says). */
    static List<String> readyInSlices(ControlPlane plane, String ns, String service) {
        String out = plane.kubectl("-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=" + service, "-o",
                "jsonpath={range .items[*].endpoints[*]}{.addresses[0]} {.conditions.ready}{\"\\n\"}{end}");
        return out.lines().map(String::trim).filter(l -> !l.isEmpty())
                .filter(l -> !l.endsWith(" false")).map(l -> l.split(" ")[0]).toList();
    }

    @TempDir
    static Path dir;
    static MeshgateProcess meshgate;

    @BeforeAll
    static void start(ControlPlane plane) {
        meshgate = MeshgateProcess.forCluster(dir.resolve("meshgate"), plane.name(), plane.kubeconfig(), "");
        meshgate.awaitReady(Duration.ofSeconds(60));
    }

    @AfterAll
    static void stop() throws Exception {
        if (meshgate != null) {
            meshgate.close();
        }
    }

    /** Waits until meshgate answers exactly {@code expected} for host:port, at most {@link #PROPAGATION}. */
    static void assertResolvesSoon(String host, int port, List<String> expected) {
        await().atMost(PROPAGATION).pollInterval(Duration.ofMillis(20)).untilAsserted(() ->
                assertThat(meshgate.resolve(host, port)).containsExactlyElementsOf(expected));
    }

    @Test
    void readyPodsOfADeploymentFollowScaleWithinTwoSeconds(ControlPlane plane) {
        apply(plane, namespace("scale"), deployment("scale", "web", 3, 8080), service("scale", "web", 80, "8080", false));
        String host = "web.scale.svc.cluster.local";
        assertResolvesSoon(host, 80, awaitReadyPods(plane, "scale", "web", 8080, 3));

        plane.kubectl("-n", "scale", "scale", "deployment/web", "--replicas=5");
        assertResolvesSoon(host, 80, awaitReadyPods(plane, "scale", "web", 8080, 5));

        plane.kubectl("-n", "scale", "scale", "deployment/web", "--replicas=2");
        assertResolvesSoon(host, 80, awaitReadyPods(plane, "scale", "web", 8080, 2));
    }

    @Test
    void podThatTurnsNotReadyLeavesAndComesBack(ControlPlane plane) {
        apply(plane, namespace("ready"), deployment("ready", "web", 2, 8080), service("ready", "web", 80, "8080", false));
        String host = "web.ready.svc.cluster.local";
        List<String> both = awaitReadyPods(plane, "ready", "web", 8080, 2);
        assertResolvesSoon(host, 80, both);

        String pod = plane.kubectl("-n", "ready", "get", "pods", "-l", "app=web", "-o",
                "jsonpath={.items[?(@.status.podIP==\"" + both.get(0).split(":")[0] + "\")].metadata.name}");
        setReady(plane, "ready", pod, false);
        assertResolvesSoon(host, 80, List.of(both.get(1)));
        setReady(plane, "ready", pod, true);
        assertResolvesSoon(host, 80, both);
    }

    /** What a kubelet does when a readiness probe changes its verdict: the pod's Ready condition flips. */
    static void setReady(ControlPlane plane, String ns, String pod, boolean ready) {
        String status = ready ? "True" : "False";
        plane.kubectl("-n", ns, "patch", "pod", pod, "--subresource=status", "--type=strategic", "-p",
                "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"" + status + "\"},"
                        + "{\"type\":\"ContainersReady\",\"status\":\"" + status + "\"}]}}");
    }

    @Test
    void deletedPodLeavesAtOnce(ControlPlane plane) {
        // Bare pods: a Deployment's replacement pod would get the deleted pod's IP back from kwok
        // at once, and that address would then rightly stay (which made this test flaky).
        apply(plane, namespace("delete"), pod("delete", "web-a", "web", 8080), pod("delete", "web-b", "web", 8080),
                service("delete", "web", 80, "8080", false));
        String host = "web.delete.svc.cluster.local";
        List<String> both = awaitReadyPods(plane, "delete", "web", 8080, 2);
        assertResolvesSoon(host, 80, both);
        String gone = plane.kubectl("-n", "delete", "get", "pod", "web-a", "-o", "jsonpath={.status.podIP}") + ":8080";
        assertThat(both).contains(gone);
        plane.kubectl("-n", "delete", "delete", "pod", "web-a", "--wait=false");
        // The controller manager's step first, on its own clock; meshgate's step is what
        // PROPAGATION bounds.
        await("the EndpointSlice controller to stop listing " + gone + " as ready").atMost(SLICE_UPDATE)
                .pollInterval(Duration.ofMillis(100))
                .until(() -> !readyInSlices(plane, "delete", "web").contains(gone.split(":")[0]));
        await().atMost(PROPAGATION).pollInterval(Duration.ofMillis(20)).untilAsserted(() ->
                assertThat(meshgate.resolve(host, 80)).doesNotContain(gone).isNotEmpty());
    }

    @Test
    void headlessServiceResolvesToItsPods(ControlPlane plane) {
        apply(plane, namespace("headless"), deployment("headless", "db", 2, 5432),
                service("headless", "db-headless", 5432, "5432", true));
        assertResolvesSoon("db-headless.headless.svc.cluster.local", 5432,
                awaitReadyPods(plane, "headless", "db", 5432, 2));
    }

    @Test
    void namedTargetPortTakesTheContainerPortOfThatName(ControlPlane plane) {
        apply(plane, namespace("named"), deployment("named", "web", 2, 9376), service("named", "web", 80, "http", false));
        assertResolvesSoon("web.named.svc.cluster.local", 80, awaitReadyPods(plane, "named", "web", 9376, 2));
        assertThat(meshgate.resolve("web.named.svc.cluster.local", 9376)).containsExactly("no-such-port");
    }

    @Test
    void moreThanAHundredEndpointsSpreadOverSeveralSlicesAllCount(ControlPlane plane) {
        apply(plane, namespace("big"), deployment("big", "big", 130, 8080), service("big", "big", 80, "8080", false));
        List<String> pods = awaitReadyPods(plane, "big", "big", 8080, 130);
        assertResolvesSoon("big.big.svc.cluster.local", 80, pods);
        String slices = plane.kubectl("-n", "big", "get", "endpointslices", "-l", "kubernetes.io/service-name=big",
                "-o", "name");
        assertThat(slices.lines().count()).as("the EndpointSlice controller puts at most 100 endpoints in a slice")
                .isGreaterThanOrEqualTo(2);
    }

    @Test
    void dualStackServiceResolvesBothFamiliesOfEveryPod(ControlPlane plane) {
        apply(plane, namespace("dual"), deployment("dual", "web", 2, 8080), """
                apiVersion: v1
                kind: Service
                metadata: {name: web, namespace: dual}
                spec:
                  ipFamilyPolicy: RequireDualStack
                  ipFamilies: [IPv4, IPv6]
                  selector: {app: web}
                  ports: [{name: http, port: 80, targetPort: 8080}]
                """);
        awaitReadyPods(plane, "dual", "web", 8080, 2);
        List<String> expected = new java.util.ArrayList<>();
        for (String ip : plane.kubectl("-n", "dual", "get", "pods", "-l", "app=web", "-o",
                "jsonpath={range .items[*]}{range .status.podIPs[*]}{.ip}{\"\\n\"}{end}{end}").split("\n")) {
            if (!ip.isBlank()) {
                expected.add(ip.contains(":") ? "[" + ip.trim() + "]:8080" : ip.trim() + ":8080");
            }
        }
        assertThat(expected).as("kwok gives each pod an IPv4 and an IPv6 address").hasSize(4);
        assertResolvesSoon("web.dual.svc.cluster.local", 80, MeshgateProcess.sorted(expected));
    }
}
