package io.meshgate.e2e.real;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshgate.e2e.Ports;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/** The built meshgate.jar run in its own JVM with a config, and its admin endpoints. */
final class MeshgateProcess implements AutoCloseable {

    static final Path JAR = Path.of(System.getProperty("meshgate.jar", "../gateway/target/meshgate.jar"));
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final ObjectMapper JSON = new ObjectMapper();

    final int admin;
    final Path dir;
    private final Process process;

    private MeshgateProcess(Path dir, int admin, Process process) {
        this.dir = dir;
        this.admin = admin;
        this.process = process;
    }

    /**
     * Starts {@code meshgate run} with {@code listenersAndDiscovery} (YAML without {@code admin:},
     * which this adds on a free port); logs go to {@code dir/stdout.log}.
     */
    static MeshgateProcess start(Path dir, String listenersAndDiscovery) {
        assertThat(JAR).as("build the jar first: mvn -DskipTests package").exists();
        try {
            Files.createDirectories(dir);
            int admin = freePort();
            Path config = Files.writeString(dir.resolve("meshgate.yaml"), listenersAndDiscovery
                    + "admin:\n  address: 127.0.0.1:" + admin + "\nruntime:\n  warmup: 0s\n");
            Process p = new ProcessBuilder("java", "-Xmx256m", "-Dio.netty.leakDetection.level=paranoid",
                    "-jar", JAR.toString(), "run", "--config", config.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("stdout.log").toFile()).start();
            return new MeshgateProcess(dir, admin, p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Starts {@code meshgate run --config config} as it is (its admin server on {@code admin}), with
     * {@code env} added to the environment; logs go to {@code dir/stdout.log}.
     */
    static MeshgateProcess run(Path dir, Path config, int admin, Map<String, String> env) {
        assertThat(JAR).as("build the jar first: mvn -DskipTests package").exists();
        try {
            Files.createDirectories(dir);
            ProcessBuilder pb = new ProcessBuilder("java", "-Xmx256m", "-Dio.netty.leakDetection.level=paranoid",
                    "-jar", JAR.toString(), "run", "--config", config.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("stdout.log").toFile());
            pb.environment().putAll(env);
            return new MeshgateProcess(dir, admin, pb.start());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** meshgate with one passthrough listener reading one cluster through {@code kubeconfig}, ready. */
    static MeshgateProcess forCluster(Path dir, String cluster, Path kubeconfig, String moreDiscovery) {
        return start(dir, """
                listeners:
                  - {name: eastwest, address: "127.0.0.1:%d", mode: passthrough}
                discovery:
                  clusters:
                    - {name: %s, kubeconfig: "%s"}
                %s""".formatted(freePort(), cluster, kubeconfig, moreDiscovery));
    }

    /** A loopback port for meshgate to bind later (see {@link Ports}: not from the ephemeral range). */
    static int freePort() {
        return Ports.free();
    }

    /** Status and body of an admin request; status -1 when the admin server does not answer. */
    record Answer(int status, String body) {
    }

    Answer get(String path) {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + path))
                    .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
            return new Answer(r.statusCode(), r.body());
        } catch (IOException e) {
            return new Answer(-1, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Answer(-1, e.toString());
        }
    }

    void awaitReady(Duration within) {
        await().atMost(within).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
            assertThat(process.isAlive()).as("meshgate exited; its output:\n%s", log()).isTrue();
            assertThat(get("/readyz").status()).isEqualTo(200);
        });
    }

    /** {@code /debug/resolve} of {@code outbound_.PORT_._.HOST}: its endpoints, or the error code as the one element. */
    List<String> resolve(String host, int port) {
        Answer a = get("/debug/resolve?sni=" + URLEncoder.encode("outbound_." + port + "_._." + host, StandardCharsets.UTF_8));
        try {
            JsonNode n = JSON.readTree(a.body());
            List<String> out = new ArrayList<>();
            if (n.has("endpoints")) {
                n.get("endpoints").forEach(e -> out.add(e.asText()));
            } else if (n.has("error")) {
                out.add(n.get("error").asText());
            } else {
                out.add("unexpected answer " + a.status() + ": " + a.body());
            }
            return out;
        } catch (IOException e) {
            return List.of("unreadable answer " + a.status() + ": " + a.body());
        }
    }

    /** The value of one Prometheus series (exact name with labels), or NaN when absent. */
    double metric(String series) {
        for (String line : get("/metrics").body().split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        return Double.NaN;
    }

    String log() {
        try {
            return Files.readString(dir.resolve("stdout.log"));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    boolean alive() {
        return process.isAlive();
    }

    /** SIGTERM, without waiting: the drain runs. */
    void terminate() {
        process.destroy();
    }

    /** The exit code once the process ended within {@code within}. */
    int exitCode(Duration within) throws InterruptedException {
        assertThat(process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS)).as("meshgate still running; its output:\n%s", log()).isTrue();
        return process.exitValue();
    }

    static List<String> sorted(List<String> endpoints) {
        return List.copyOf(new TreeSet<>(endpoints));
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        assertThat(log()).as("Netty leak report in meshgate's output").doesNotContain("LEAK:");
    }
}
