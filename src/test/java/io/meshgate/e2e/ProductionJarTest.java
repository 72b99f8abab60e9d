package io.meshgate.e2e;

import static io.meshgate.routing.kubernetes.KubernetesObjects.port;
import static io.meshgate.routing.kubernetes.KubernetesObjects.ready;
import static io.meshgate.routing.kubernetes.KubernetesObjects.service;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slice;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slicePort;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.routing.kubernetes.MockApiServer;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code gateway/target/meshgate.jar} carries production code only: the demo, its mock API servers
 * and Vert.x live in {@code src/demo/target/meshgate-demo.jar}, which {@code meshgate.jar demo}
 * finds and runs; fabric8 keeps only the API groups meshgate reads, and discovery still works
 * with what is left.
 */
class ProductionJarTest {

    /** The size the production jar must stay under. */
    static final long MAX_JAR_BYTES = 30L * 1024 * 1024;
    static final Path JAR = Path.of(System.getProperty("meshgate.jar", "../gateway/target/meshgate.jar"));
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        for (Process p : processes) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void theJarHoldsNoDemoNoMockApiServerAndStaysUnderThirtyMebibytes() throws IOException {
        assertThat(Files.size(JAR)).as("size of %s", JAR).isLessThanOrEqualTo(MAX_JAR_BYTES);
        List<String> names;
        try (ZipFile zip = new ZipFile(JAR.toFile())) {
            names = zip.stream().map(ZipEntry::getName).toList();
        }
        assertThat(names).contains("io/meshgate/gateway/cli/Main.class",
                "io/fabric8/kubernetes/api/model/Service.class",
                "io/fabric8/kubernetes/api/model/discovery/v1/EndpointSlice.class",
                "io/fabric8/kubernetes/api/model/GenericKubernetesResource.class");
        assertThat(names).filteredOn(n -> n.startsWith("io/vertx/")
                        || n.startsWith("io/fabric8/mockwebserver/")
                        || n.startsWith("io/fabric8/kubernetes/client/server/mock/")
                        || n.startsWith("META-INF/maven/io.fabric8/kubernetes-server-mock/")
                        || n.startsWith("io/meshgate/demo/")
                        || n.startsWith("io/meshgate/routing/kubernetes/MockApiServer")
                        || n.startsWith("io/fabric8/kubernetes/api/model/gatewayapi/")
                        || n.startsWith("io/fabric8/kubernetes/api/model/networking/")
                        || n.startsWith("io/prometheus/metrics/shaded/"))
                .as("demo, mock API server, Vert.x, unread API groups, protobuf in meshgate.jar").isEmpty();
    }

    @Test
    @Timeout(120)
    void demoCommandRunsTheDemoJarAndEveryStepPasses() throws Exception {
        String network = "127." + ThreadLocalRandom.current().nextInt(100, 250);
        Process p = meshgate(JAR, "demo", "--dir", dir.resolve("demo").toString(), "--network", network);
        assertThat(p.waitFor(100, TimeUnit.SECONDS)).as("demo finished").isTrue();
        String out = Files.readString(dir.resolve("stdout.log"));
        String err = Files.readString(dir.resolve("stderr.log"));
        for (int step = 1; step <= 6; step++) {
            assertThat(out).as("step %d; stderr: %s", step, err).containsPattern("(?m)^PASS " + step + "  ");
        }
        assertThat(out).contains("all 6 steps passed");
        assertThat(p.exitValue()).as("exit code; stderr: %s", Files.readString(dir.resolve("stderr.log"))).isZero();
    }

    @Test
    void demoWithoutItsJarNamesTheMissingFileAndTheBuildCommand() throws Exception {
        Path lonely = Files.copy(JAR, dir.resolve("meshgate.jar"));
        Process p = meshgate(lonely, "demo");
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(1);
        assertThat(Files.readString(dir.resolve("stderr.log")))
                .contains(dir.resolve("meshgate-demo.jar").toString())
                .contains("mvn -B -DskipTests package")
                .doesNotContain("\tat ");
    }

    @Test
    void kubernetesDiscoveryWorksWithTheTrimmedModel() throws Exception {
        try (MockApiServer api = MockApiServer.start()) {
            // The mock's first requests can outlast the client's request timeout on a loaded machine; apply is idempotent.
            await().atMost(Duration.ofSeconds(60)).ignoreExceptions().until(() -> {
                api.apply(service("default", "web", port("http", 80)),
                        slice("default", "web-1", "web", List.of(slicePort("http", 8080)), ready("10.0.0.7")));
                return true;
            });
            Path kubeconfig = api.writeKubeconfig(dir.resolve("kubeconfig.yaml"));
            int admin = freePort();
            Path config = dir.resolve("meshgate.yaml");
            Files.writeString(config, """
                    listeners:
                      - name: eastwest
                        address: 127.0.0.1:%d
                        mode: passthrough
                    admin:
                      address: 127.0.0.1:%d
                    discovery:
                      export: all
                      clusters:
                        - name: cluster-a
                          kubeconfig: %s
                    """.formatted(freePort(), admin, kubeconfig));
            meshgate(JAR, "run", "--config", config.toString());
            await().atMost(Duration.ofSeconds(30)).until(() -> status(admin, "/readyz") == 200);
            HttpResponse<String> resolved = get(admin, "/debug/resolve?sni=outbound_.80_._.web.default.svc.cluster.local");
            assertThat(resolved.statusCode()).as(resolved.body()).isEqualTo(200);
            assertThat(resolved.body()).contains("\"10.0.0.7:8080\"");
        }
        assertThat(Files.readString(dir.resolve("stderr.log")) + Files.readString(dir.resolve("stdout.log")))
                .doesNotContain("NoClassDefFoundError").doesNotContain("ClassNotFoundException");
    }

    private Process meshgate(Path jar, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("java", "-Xmx512m", "-jar", jar.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectOutput(dir.resolve("stdout.log").toFile())
                .redirectError(dir.resolve("stderr.log").toFile()).start();
        processes.add(p);
        return p;
    }

    private static HttpResponse<String> get(int adminPort, String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
                .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The admin server's answer to {@code path}, or -1 while it does not answer yet. */
    private static int status(int adminPort, String path) {
        try {
            return get(adminPort, path).statusCode();
        } catch (IOException | InterruptedException e) {
            return -1;
        }
    }

    private static int freePort() {
        return Ports.free();
    }
}
