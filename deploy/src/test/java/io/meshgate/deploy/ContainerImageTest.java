package io.meshgate.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image the build writes ({@code target/meshgate-image.tar}, profile "image") is one that
 * runs: its layers are unpacked into a root filesystem, mounted read-only as the Deployment's
 * {@code readOnlyRootFilesystem} asks, with {@code /tmp} and the config folder mounted like the
 * pod's volumes, and its entrypoint is started there in a chroot as the image's user, in a private
 * mount namespace ({@code unshare}) that vanishes with the process. It must answer {@code version}
 * and serve {@code /healthz} and {@code /metrics}. Its config (user, command, ports) must agree
 * with the Deployment.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ContainerImageTest {

    private static final Path IMAGE = RenderedManifests.deployDir().resolve(Path.of("target", "meshgate-image.tar"));
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration START_BUDGET = Duration.ofSeconds(90);

    @TempDir
    static Path work;

    private Path rootfs;
    private JsonNode config;

    @BeforeAll
    void unpackTheImage() throws Exception {
        assertThat(IMAGE).as("built by the deploy module's \"image\" profile (active unless -DskipImage)").isRegularFile();
        Path extracted = Files.createDirectories(work.resolve("tar"));
        run(List.of("tar", "-xf", IMAGE.toString(), "-C", extracted.toString()));
        JsonNode manifest = JSON.readTree(extracted.resolve("manifest.json").toFile()).get(0);
        config = JSON.readTree(extracted.resolve(manifest.get("Config").asText()).toFile());
        rootfs = Files.createDirectories(work.resolve("rootfs"));
        for (JsonNode layer : manifest.get("Layers")) {
            run(List.of("tar", "-xzf", extracted.resolve(layer.asText()).toString(), "-C", rootfs.toString()));
        }
        Files.setPosixFilePermissions(rootfs, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    @Test
    void imageUserIsTheNonRootUserTheDeploymentRunsAs() {
        PodSecurityContext pod = RenderedManifests.of("base").pod().getSecurityContext();

        assertThat(config.path("config").path("User").asText()).isEqualTo(pod.getRunAsUser() + ":" + pod.getRunAsGroup());
    }

    @Test
    void imageDefaultsMatchTheDeployment() {
        RenderedManifests base = RenderedManifests.of("base");
        List<String> cmd = new ArrayList<>();
        config.path("config").path("Cmd").forEach(a -> cmd.add(a.asText()));
        List<String> exposed = new ArrayList<>();
        config.path("config").path("ExposedPorts").fieldNames().forEachRemaining(exposed::add);

        assertThat(cmd).isEqualTo(base.container().getArgs());
        assertThat(exposed).containsExactlyInAnyOrderElementsOf(
                base.container().getPorts().stream().map(p -> p.getContainerPort() + "/tcp").toList());
        assertThat(base.container().getPorts()).extracting(ContainerPort::getProtocol).containsOnly("TCP");
    }

    @Test
    void imageIsReproducibleAndCarriesOnlyTheRootFilesystem() {
        assertThat(config.path("created").asText()).as("no build time in the image").isEqualTo("1970-01-01T00:00:00Z");
        assertThat(rootfs.resolve("app")).as("no second copy of the classpath").doesNotExist();
        assertThat(rootfs.resolve("bin/sleep")).as("the preStop hook's sleep").isExecutable();
    }

    @Test
    void entrypointRunsInAChrootWithAReadOnlyRootAsTheImageUser() throws Exception {
        assertThat(output(List.of("version"))).as("meshgate version in the image").startsWith("meshgate ").contains("BoringSSL");

        int admin = LoopbackPorts.free();
        Path configDir = Files.createDirectories(work.resolve("config"));
        Files.writeString(configDir.resolve("meshgate.yaml"), """
                listeners:
                  - {name: eastwest, address: "127.0.0.1:%d", mode: passthrough}
                admin:
                  address: "127.0.0.1:%d"
                discovery:
                  static:
                    - {host: httpbin.default.svc.cluster.local, port: 8080, endpoints: ["127.0.0.1:9"]}
                runtime:
                  warmup: 0s
                """.formatted(LoopbackPorts.free(), admin));
        Files.setPosixFilePermissions(configDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(configDir.resolve("meshgate.yaml"), PosixFilePermissions.fromString("rw-r--r--"));
        Path log = work.resolve("gateway.log");
        Process gateway = start(imageCommand(), configDir, log);
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        try {
            await("/healthz of the gateway in the image").atMost(START_BUDGET).pollInterval(Duration.ofMillis(500))
                    .failFast(() -> assertThat(gateway.isAlive()).as(() -> tail(log)).isTrue())
                    .until(() -> status(http, admin, "/healthz") == 200);
            String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(metrics).contains("meshgate_", "jvm_memory_used_bytes");
            // SIGTERM to the JVM itself, as the kubelet sends it (unshare's --kill-child does not
            // survive the chroot's change of user).
            gateway.descendants().forEach(ProcessHandle::destroy);
            assertThat(gateway.waitFor(60, TimeUnit.SECONDS)).as("SIGTERM ends the gateway in the image\n%s", tail(log)).isTrue();
            assertThat(gateway.exitValue()).as(tail(log)).isZero();
        } finally {
            gateway.descendants().forEach(ProcessHandle::destroyForcibly);
            gateway.destroyForcibly();
        }
    }

    /** The image's entrypoint and default command, with {@code args} instead when given. */
    private List<String> imageCommand(String... args) {
        List<String> command = new ArrayList<>();
        config.path("config").path("Entrypoint").forEach(a -> command.add(a.asText()));
        if (args.length == 0) {
            config.path("config").path("Cmd").forEach(a -> command.add(a.asText()));
        } else {
            command.addAll(List.of(args));
        }
        return command;
    }

    private String output(List<String> args) throws Exception {
        Path log = work.resolve("command.log");
        Process p = start(imageCommand(args.toArray(String[]::new)), null, log);
        assertThat(p.waitFor(START_BUDGET.toSeconds(), TimeUnit.SECONDS)).as("finished").isTrue();
        assertThat(p.exitValue()).as(tail(log)).isZero();
        return Files.readString(log, StandardCharsets.UTF_8).strip();
    }

    /**
     * Starts {@code command} inside the unpacked image: a private mount namespace, the rootfs
     * bind-mounted read-only, /proc, a tmpfs on /tmp, the config folder read-only on
     * /etc/meshgate/config, then chroot as the image's user. Root can switch to that user; without
     * root a user namespace maps the caller to root inside (the process then runs with the
     * caller's uid, which is not root either).
     */
    private Process start(List<String> command, Path configDir, Path log) throws IOException {
        boolean root = "root".equals(System.getProperty("user.name"));
        String user = config.path("config").path("User").asText();
        String r = rootfs.toString();
        StringBuilder script = new StringBuilder("set -e\n")
                .append("mount --bind '").append(r).append("' '").append(r).append("'\n")
                .append("mount -o remount,bind,ro '").append(r).append("'\n")
                .append("mount -t proc proc '").append(r).append("/proc'\n")
                .append("mount -t tmpfs -o mode=1777,size=64m tmpfs '").append(r).append("/tmp'\n");
        if (configDir != null) {
            script.append("mkdir -p '").append(r).append("/etc/meshgate/config' 2>/dev/null || true\n")
                    .append("mount --bind -o ro '").append(configDir).append("' '").append(r).append("/etc/meshgate/config'\n");
        }
        script.append("cd /\nexec chroot ").append(root ? "--userspec=" + user + " " : "").append("'").append(r).append("'");
        for (String arg : command) {
            script.append(" '").append(arg).append("'");
        }
        List<String> unshare = new ArrayList<>(List.of("unshare", "--mount", "--fork", "--kill-child=SIGTERM"));
        if (!root) {
            unshare.addAll(List.of("--user", "--map-root-user", "--pid", "--mount-proc"));
        }
        unshare.addAll(List.of("sh", "-c", script.toString()));
        ProcessBuilder pb = new ProcessBuilder(unshare).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().clear();
        config.path("config").path("Env").forEach(e -> {
            String[] kv = e.asText().split("=", 2);
            pb.environment().put(kv[0], kv[1]);
        });
        pb.environment().put("PATH", pb.environment().getOrDefault("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin");
        return pb.start();
    }

    private static int status(HttpClient http, int port, String path) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    private static void run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("%s finished", command).isTrue();
        assertThat(p.exitValue()).as("%s: %s", command, out).isZero();
    }

    private static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            return "output:\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }

}
