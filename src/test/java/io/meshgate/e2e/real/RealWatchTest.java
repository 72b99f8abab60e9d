package io.meshgate.e2e.real;

import static io.meshgate.e2e.real.Workloads.apply;
import static io.meshgate.e2e.real.Workloads.awaitReadyPods;
import static io.meshgate.e2e.real.Workloads.deployment;
import static io.meshgate.e2e.real.Workloads.namespace;
import static io.meshgate.e2e.real.Workloads.service;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshgate.routing.kubernetes.real.ControlPlane;
import io.meshgate.routing.kubernetes.real.RealCluster;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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
 * Real watch semantics: kube-apiserver restarted with etcd kept, and etcd compacted so the
 * resourceVersions meshgate holds expire (410 Gone). meshgate keeps serving the last known
 * endpoints and stays ready meanwhile, relists, and converges on what changed.
 */
// Bounded, but above the suite's 60 s default: applying manifests and waiting for controllers adds up.
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@RealCluster
class RealWatchTest {

    static final String HOST = "web.watch.svc.cluster.local";

    @TempDir
    static Path dir;
    static MeshgateProcess meshgate;

    @BeforeAll
    static void start(ControlPlane plane) {
        apply(plane, namespace("watch"), deployment("watch", "web", 2, 8080), service("watch", "web", 80, "8080", false));
        meshgate = MeshgateProcess.forCluster(dir.resolve("meshgate"), plane.name(), plane.kubeconfig(), "");
        meshgate.awaitReady(Duration.ofSeconds(60));
    }

    @AfterAll
    static void stop() throws Exception {
        if (meshgate != null) {
            meshgate.close();
        }
    }

    @Test
    void apiServerRestartAndCompactionKeepTheLastKnownEndpointsThenConverge(ControlPlane plane) throws Exception {
        List<String> before = awaitReadyPods(plane, "watch", "web", 8080, 2);
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> assertThat(meshgate.resolve(HOST, 80)).isEqualTo(before));

        // Many writes, then a compaction at the newest revision: every resourceVersion meshgate holds is gone.
        for (int i = 0; i < 20; i++) {
            plane.kubectl("-n", "watch", "annotate", "service", "web", "--overwrite", "churn=" + i);
        }
        compactEtcd(plane);

        plane.restart("kube-apiserver"); // stopped, then started on the same etcd: watches break, caches stay
        assertThat(meshgate.resolve(HOST, 80)).as("last known endpoints while the API server was away").isEqualTo(before);
        assertThat(meshgate.get("/readyz").status()).as("ready stays as documented: caches synced once").isEqualTo(200);

        plane.kubectl("-n", "watch", "scale", "deployment/web", "--replicas=4");
        List<String> after = awaitReadyPods(plane, "watch", "web", 8080, 4);
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> assertThat(meshgate.resolve(HOST, 80)).isEqualTo(after));
        assertThat(meshgate.metric("meshgate_cluster_up{cluster=\"" + plane.name() + "\"}")).isEqualTo(1.0);
        assertThat(meshgate.log()).doesNotContain("\tat ");
        assertThat(meshgate.log().lines().filter(l -> l.contains(" WARN ")).count())
                .as("one warning per state change at most, not one per retry").isLessThanOrEqualTo(2);
    }

    /** etcd's v3 JSON gateway: the current revision, then a physical compaction at it. */
    static void compactEtcd(ControlPlane plane) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        ObjectMapper json = new ObjectMapper();
        String range = http.send(HttpRequest.newBuilder(URI.create(plane.etcdUrl() + "/v3/kv/range"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"key\":\"AA==\"}")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        long revision = json.readTree(range).get("header").get("revision").asLong();
        HttpResponse<String> compacted = http.send(HttpRequest.newBuilder(URI.create(plane.etcdUrl() + "/v3/kv/compaction"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"revision\":" + revision + ",\"physical\":true}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(compacted.statusCode()).as("etcd compaction: %s", compacted.body()).isEqualTo(200);
    }
}
