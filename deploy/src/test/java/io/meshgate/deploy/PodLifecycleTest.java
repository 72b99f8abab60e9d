package io.meshgate.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the built jar as the cluster-a Deployment runs it: identity and bundle from
 * {@code meshgate pki} as docs/deploy.md creates them, mounted the kubelet's way, the container's
 * args and JAVA_TOOL_OPTIONS, the shipped meshgate.yaml. Then asks what the kubelet asks.
 *
 * <p>Deviations from the pod, all in {@link #podConfig}: addresses become 127.0.0.1 with free
 * ports (tests stay on loopback); the in-cluster discovery entry, remote Secrets and trust
 * federation are dropped (they need an API server; none here). Every listener (passthrough,
 * terminate, egress) runs as shipped.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PodLifecycleTest {

    private static final String OVERLAY = "overlays/cluster-a";
    private static final Duration ROTATION_DEADLINE = Duration.ofSeconds(30);

    @TempDir
    static Path work;

    private RenderedManifests manifests;
    private PodFilesystem pod;
    private Path pki;
    private Path log;
    private Process gateway;
    private int adminPort;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @BeforeAll
    void startTheGatewayAsThePodWould() throws IOException {
        manifests = RenderedManifests.of(OVERLAY);
        pod = new PodFilesystem(Files.createDirectories(work.resolve("pod")));
        pki = Files.createDirectories(work.resolve("pki"));
        Container container = manifests.container();

        // docs/deploy.md steps 2-4: one CA per cluster, the gateway's identity, the federated bundle.
        ServiceAccount account = manifests.only(ServiceAccount.class);
        String spiffe = "spiffe://cluster.local/ns/" + account.getMetadata().getNamespace() + "/sa/" + account.getMetadata().getName();
        for (String cluster : List.of("cluster-a", "cluster-b", "cluster-c")) {
            MeshgateJar.run(work, "pki", "init-cluster", "--name", cluster, "--trust-domain", "cluster.local",
                    "--out", pki.resolve(cluster).toString());
        }
        MeshgateJar.run(work, "pki", "issue", "--ca", pki.resolve("cluster-a").toString(), "--spiffe", spiffe,
                "--dns", manifests.eastWestService().getMetadata().getName() + "." + account.getMetadata().getNamespace() + ".svc",
                "--out", pki.resolve("cluster-a/gateway").toString());
        bundle("cluster-a", "cluster-b");

        // docs/deploy.md step 5: the Secrets, mounted where the Deployment mounts them.
        pod.writeVolume(manifests.secretMount(ManifestsTest.IDENTITY_SECRET).getMountPath(), Map.of(
                "cert-chain.pem", Files.readAllBytes(pki.resolve("cluster-a/gateway/cert-chain.pem")),
                "key.pem", Files.readAllBytes(pki.resolve("cluster-a/gateway/key.pem"))));
        writeBundleSecret();
        List<String> mountPaths = container.getVolumeMounts().stream().map(VolumeMount::getMountPath).toList();
        for (VolumeMount mount : container.getVolumeMounts()) {
            if (manifests.volumeOf(mount).getEmptyDir() != null) {
                pod.emptyDir(mount.getMountPath());
            }
        }
        pod.writeVolume(manifests.configMount().getMountPath(), Map.of(
                RenderedManifests.CONFIG_KEY, podConfig(pod.rewrite(manifests.meshgateYaml(), mountPaths))));

        Map<String, String> env = new HashMap<>();
        for (EnvVar var : container.getEnv()) {
            env.put(var.getName(), pod.rewrite(var.getValue(), mountPaths));
        }
        List<String> args = container.getArgs().stream().map(a -> pod.rewrite(a, mountPaths)).toList();
        log = work.resolve("gateway.log");
        gateway = MeshgateJar.start(work, env, args, log);
    }

    @AfterAll
    void stopTheGateway() throws InterruptedException {
        if (gateway != null && gateway.isAlive()) {
            gateway.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    @Order(1)
    void startupLivenessAndReadinessProbesSucceedWithinTheStartupBudget() {
        Container c = manifests.container();
        Probe startup = c.getStartupProbe();
        Duration budget = Duration.ofSeconds((long) startup.getPeriodSeconds() * startup.getFailureThreshold());

        long start = System.nanoTime();
        await("startup probe " + startup.getHttpGet().getPath()).atMost(budget).pollInterval(Duration.ofMillis(200))
                .failFast(() -> assertThat(gateway.isAlive()).as(this::logTail).isTrue())
                .until(() -> status(startup.getHttpGet().getPath()) == 200);
        assertThat(status(c.getLivenessProbe().getHttpGet().getPath())).as(logTail()).isEqualTo(200);
        // Ready (warm-up done, listeners bound) within what is left of the same budget: on a busy
        // machine the warm-up's connections take longer than on an idle one.
        Duration left = budget.minusNanos(System.nanoTime() - start);
        await("readiness probe").atMost(left.isNegative() ? Duration.ZERO : left).pollInterval(Duration.ofMillis(200))
                .failFast(() -> assertThat(gateway.isAlive()).as(this::logTail).isTrue())
                .until(() -> status(c.getReadinessProbe().getHttpGet().getPath()) == 200);
    }

    @Test
    @Order(2)
    void prometheusFindsMeshgateSeriesAtTheAnnotatedPath() throws Exception {
        String path = manifests.deployment().getSpec().getTemplate().getMetadata().getAnnotations().get("prometheus.io/path");

        String metrics = get(path).body();
        assertThat(metrics).contains("meshgate_tls_trust_roots 2.0", "meshgate_tls_certificate_expiry_seconds{certificate=\"serving\"}");
    }

    @Test
    @Order(3)
    void bundleSecretUpdatedThroughTheKubeletSymlinkSwapIsLoadedWithoutRestart() throws Exception {
        bundle("cluster-a", "cluster-b", "cluster-c");
        writeBundleSecret();

        await("meshgate_tls_trust_roots 3 after the ..data swap").atMost(ROTATION_DEADLINE).pollInterval(Duration.ofMillis(250))
                .until(() -> get("/metrics").body().contains("meshgate_tls_trust_roots 3.0"));
        assertThat(get("/metrics").body()).contains("meshgate_tls_reload_total{result=\"ok\"} 1.0");
        assertThat(gateway.isAlive()).as("rotated without a restart").isTrue();
    }

    @Test
    @Order(4)
    void sigtermDrainsAndExitsWithinTheGracePeriod() throws Exception {
        long preStop = ManifestsTest.preStopSeconds(manifests.container().getLifecycle().getPreStop());
        long grace = manifests.pod().getTerminationGracePeriodSeconds();

        gateway.destroy(); // SIGTERM, as the kubelet sends after preStop
        assertThat(gateway.waitFor(grace - preStop, TimeUnit.SECONDS))
                .as("exited before the kubelet's SIGKILL at %ss - preStop %ss\n%s", grace, preStop, logTail()).isTrue();
        assertThat(gateway.exitValue()).as(logTail()).isZero();
    }

    /** The shipped config with the deviations listed in the class comment. */
    private static byte[] podConfig(String shipped) throws IOException {
        YAMLMapper yaml = new YAMLMapper();
        ObjectNode config = (ObjectNode) yaml.readTree(shipped);
        ArrayNode listeners = (ArrayNode) config.get("listeners");
        for (JsonNode listener : listeners) {
            ((ObjectNode) listener).put("address", "127.0.0.1:" + LoopbackPorts.free());
        }
        ((ObjectNode) config.get("admin")).put("address", "127.0.0.1:" + LoopbackPorts.free());
        ((ObjectNode) config.get("discovery")).remove(List.of("clusters", "remoteSecrets"));
        config.remove("trust");
        return yaml.writeValueAsBytes(config);
    }

    private void bundle(String... clusters) {
        List<String> args = new java.util.ArrayList<>(List.of("pki", "bundle", "--out", pki.resolve("bundle.pem").toString()));
        for (String cluster : clusters) {
            args.add(pki.resolve(cluster).resolve("root-cert.pem").toString());
        }
        MeshgateJar.run(work, args.toArray(String[]::new));
    }

    private void writeBundleSecret() throws IOException {
        pod.writeVolume(manifests.secretMount(ManifestsTest.BUNDLE_SECRET).getMountPath(),
                Map.of("bundle.pem", Files.readAllBytes(pki.resolve("bundle.pem"))));
    }

    private int adminPort() throws IOException {
        if (adminPort == 0) {
            Path config = pod.path(manifests.configMount().getMountPath()).resolve(RenderedManifests.CONFIG_KEY);
            String address = new YAMLMapper().readTree(config.toFile()).path("admin").path("address").asText();
            adminPort = Integer.parseInt(address.substring(address.lastIndexOf(':') + 1));
        }
        return adminPort;
    }

    private HttpResponse<String> get(String path) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort() + path))
                .timeout(Duration.ofSeconds(5)).build();
        return http.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private int status(String path) {
        try {
            return get(path).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private String logTail() {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return "gateway log:\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no gateway log: " + e.getMessage() + ")";
        }
    }

}
