package io.meshgate.routing.kubernetes.real;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code deploy/test/control-plane} itself: what it refuses, and that {@code down} leaves nothing behind. */
class ControlPlaneScriptTest {

    @TempDir
    Path dir;

    @BeforeAll
    static void prerequisites() {
        RealClusterExtension.missingPrerequisite().ifPresent(reason -> {
            String env = System.getenv(RealClusterExtension.REQUIRE_ENV);
            if (env != null && !env.isEmpty()) {
                throw new IllegalStateException(reason);
            }
            Assumptions.abort("control-plane script tests skipped: " + reason);
        });
    }

    private static Commands.Result script(Map<String, String> env, String... args) {
        List<String> cmd = new ArrayList<>(List.of(RealClusterExtension.script().toString()));
        cmd.addAll(List.of(args));
        if (!env.isEmpty()) {
            List<String> withEnv = new ArrayList<>(List.of("env"));
            env.forEach((k, v) -> withEnv.add(k + "=" + v));
            withEnv.addAll(cmd);
            cmd = withEnv;
        }
        return Commands.run(cmd, Duration.ofMinutes(60), null);
    }

    @Test
    void withoutGoItSaysWhatToDo() {
        // PATH without Go's folder (the machine has Go under /usr/local/go/bin, nothing of it in /usr/bin).
        String path = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin";
        Assumptions.assumeFalse(Files.isExecutable(Path.of("/usr/bin/go")), "go is in /usr/bin: cannot hide it");
        Commands.Result r = script(Map.of("PATH", path, "MESHGATE_K8S_CACHE", dir.resolve("cache").toString()),
                "up", dir.resolve("nogo").toString(), "--address", "127.0.103.1");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.stderr()).contains("Go is not installed").contains("go >= 1.26");
    }

    @Test
    void aTakenPortIsNamed() throws IOException {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress(InetAddress.getByName("127.0.103.1"), 6443));
            Commands.Result r = script(Map.of(), "up", dir.resolve("taken").toString(), "--address", "127.0.103.1");
            assertThat(r.exitCode()).isNotZero();
            assertThat(r.stderr()).contains("port 127.0.103.1:6443 is taken");
        }
    }

    @Test
    void badArgumentsAreRefusedWithTheReason() {
        assertThat(script(Map.of(), "up", dir.toString(), "--address", "10.0.0.1").stderr()).contains("loopback");
        assertThat(script(Map.of(), "up", dir.toString(), "--pod-cidr", "nonsense").stderr()).contains("--pod-cidr");
        assertThat(script(Map.of(), "serve", dir.toString(), "default/x", "--", "true").stderr()).contains("no control plane");
    }

    @Test
    void downLeavesNoProcessNamespaceVethOrMountAndIsIdempotent() throws Exception {
        Path plane = dir.resolve("plane");
        Commands.Result up = script(Map.of(), "up", plane.toString(), "--name", "leaks", "--address", "127.0.103.1",
                "--pod-cidr", "10.246.0.0/24");
        assertThat(up.exitCode()).as(up.stderr()).isZero();
        assertThat(up.stdout().trim()).isEqualTo("https://127.0.103.1:6443");
        ControlPlane cp = new ControlPlane(RealClusterExtension.script(), plane);
        cp.kubectl("run", "pod-1", "--image=example.invalid/x:1", "--restart=Never");
        Process served = cp.serve("default/pod-1", "sleep", "600");
        Awaitility.await().atMost(Duration.ofSeconds(60)).until(() -> !netns(plane).isEmpty());
        String ip = cp.kubectl("get", "pod", "pod-1", "-o", "jsonpath={.status.podIP}");
        assertThat(ip).startsWith("10.246.0.");
        assertThat(leftovers(plane)).isNotEmpty(); // the check sees what runs

        Commands.Result down = script(Map.of(), "down", plane.toString());
        assertThat(down.exitCode()).as(down.stderr()).isZero();
        assertThat(served.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        assertThat(leftovers(plane)).isEmpty();
        assertThat(connects("127.0.103.1", 6443)).isFalse();
        assertThat(script(Map.of(), "down", plane.toString()).exitCode()).isZero();
    }

    /** Processes naming the plane's directory, its network namespaces, veths and mounts. */
    private static List<String> leftovers(Path plane) throws IOException {
        List<String> found = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            procs.filter(p -> p.getFileName().toString().matches("\\d+")).forEach(p -> {
                try {
                    String cmdline = Files.readString(p.resolve("cmdline")).replace('\0', ' ');
                    if (cmdline.contains(plane.toString()) && !cmdline.contains(" down ")) {
                        found.add("process " + p.getFileName() + ": " + cmdline);
                    }
                } catch (IOException e) {
                    // exited meanwhile
                }
            });
        }
        found.addAll(netns(plane));
        String id = dirId(plane);
        Commands.run(List.of("ip", "-o", "link", "show"), Duration.ofSeconds(10), null).stdout().lines()
                .filter(l -> l.contains(": m" + id)).forEach(l -> found.add("veth " + l));
        Files.readAllLines(Path.of("/proc/mounts")).stream().filter(l -> l.contains("mgcp-" + id))
                .forEach(l -> found.add("mount " + l));
        return found;
    }

    private static List<String> netns(Path plane) throws IOException {
        Path run = Path.of("/run/netns");
        if (!Files.isDirectory(run)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(run)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("mgcp-" + dirId(plane)))
                    .map(n -> "netns " + n).toList();
        }
    }

    private static String dirId(Path plane) {
        return Commands.run(List.of("bash", "-c", "printf '%s' \"$1\" | sha256sum | cut -c1-6", "_",
                plane.toAbsolutePath().toString()), Duration.ofSeconds(10), null).stdout().trim();
    }

    private static boolean connects(String host, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
