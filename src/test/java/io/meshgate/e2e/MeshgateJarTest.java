package io.meshgate.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built {@code gateway/target/meshgate.jar} run as a user runs it, in its own JVM: the
 * CONTRACT's CLI, exit codes and the SIGTERM drain.
 */
class MeshgateJarTest {

    static final String SNI = "outbound_.8080_._.httpbin.default.svc.cluster.local";
    static final Path JAR = Path.of(System.getProperty("meshgate.jar", "../gateway/target/meshgate.jar"));
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    static byte[] hello;

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeAll
    static void helloFromBoringSsl() throws Exception {
        assertThat(JAR).as("build the jar first: mvn -DskipTests package").exists();
        hello = ClientHellos.withSni(SNI);
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (Process p : processes) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (AutoCloseable c : closeables) {
            c.close();
        }
        for (String log : new String[] {"stdout.log", "stderr.log"}) {
            java.nio.file.Path f = dir.resolve(log);
            if (java.nio.file.Files.exists(f)) {
                org.assertj.core.api.Assertions.assertThat(java.nio.file.Files.readString(f))
                        .as("Netty leak report in the jar's %s", log).doesNotContain("LEAK:");
            }
        }
    }

    private Process meshgate(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("java", "-Xmx256m",
                // The jar turns leak tracking off for production; here it runs at full strength and a report fails the test.
                "-Dio.netty.leakDetection.level=paranoid", "-jar", JAR.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectOutput(dir.resolve("stdout.log").toFile())
                .redirectError(dir.resolve("stderr.log").toFile()).start();
        processes.add(p);
        return p;
    }

    private static int freePort() {
        return Ports.free();
    }

    private static int status(int adminPort, String path) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (Exception e) {
            return -1;
        }
    }

    /** A backend that accepts and holds connections open, reading what comes. */
    private ServerSocket holdingBackend() throws IOException {
        ServerSocket backend = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        closeables.add(backend);
        Thread t = new Thread(() -> {
            while (!backend.isClosed()) {
                try {
                    Socket s = backend.accept();
                    closeables.add(s);
                    new Thread(() -> {
                        try (InputStream in = s.getInputStream()) {
                            in.transferTo(java.io.OutputStream.nullOutputStream());
                        } catch (IOException ignored) {
                            // closed
                        }
                    }).start();
                } catch (IOException e) {
                    return;
                }
            }
        });
        t.setDaemon(true);
        t.start();
        return backend;
    }

    private Path config(int listenPort, int adminPort, int backendPort, String drain) throws IOException {
        Path f = dir.resolve("meshgate.yaml");
        Files.writeString(f, """
                listeners:
                  - name: eastwest
                    address: 127.0.0.1:%d
                    mode: passthrough
                admin:
                  address: 127.0.0.1:%d
                discovery:
                  static:
                    - host: httpbin.default.svc.cluster.local
                      port: 8080
                      endpoints: ["127.0.0.1:%d"]
                timeouts:
                  drain: %s
                """.formatted(listenPort, adminPort, backendPort, drain));
        return f;
    }

    @Test
    void versionAndHelpWork() throws Exception {
        Process p = meshgate("version");
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
        assertThat(Files.readString(dir.resolve("stdout.log"))).startsWith("meshgate ").contains("BoringSSL");
    }

    @Test
    void badConfigExitsTwoWithTheKeyNamed() throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, "listeners:\n  - name: a\n    address: 127.0.0.1:notaport\n");
        Process p = meshgate("run", "--config", f.toString());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(Files.readString(dir.resolve("stderr.log"))).contains("listeners[0].address").doesNotContain("\tat ");
    }

    @Test
    void sigtermDrainsOpenConnectionsThenExitsZero() throws Exception {
        ServerSocket backend = holdingBackend();
        int listen = freePort();
        int admin = freePort();
        Process p = meshgate("run", "--config", config(listen, admin, backend.getLocalPort(), "20s").toString());
        await().atMost(Duration.ofSeconds(30)).until(() -> status(admin, "/readyz") == 200);

        Socket open = new Socket(InetAddress.getLoopbackAddress(), listen);
        open.getOutputStream().write(hello);
        await().atMost(Duration.ofSeconds(5)).until(() -> metric(admin).contains("outcome=\"routed\"} 1.0"));

        p.destroy(); // SIGTERM
        await().atMost(Duration.ofSeconds(5)).until(() -> status(admin, "/readyz") == 503);
        assertThat(status(admin, "/healthz")).isEqualTo(200);
        // No longer accepting: a new connection is refused.
        await().atMost(Duration.ofSeconds(5)).until(() -> !accepts(listen));
        // The open connection still works while draining, and the process waits for it.
        open.getOutputStream().write("still relayed".getBytes());
        assertThat(p.waitFor(1, TimeUnit.SECONDS)).as("still draining").isFalse();
        open.close();
        assertThat(p.waitFor(15, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
    }

    @Test
    void drainTimeoutClosesWhatIsLeftAndExitsZero() throws Exception {
        ServerSocket backend = holdingBackend();
        int listen = freePort();
        int admin = freePort();
        Process p = meshgate("run", "--config", config(listen, admin, backend.getLocalPort(), "1s").toString());
        await().atMost(Duration.ofSeconds(30)).until(() -> status(admin, "/readyz") == 200);
        try (Socket open = new Socket(InetAddress.getLoopbackAddress(), listen)) {
            open.getOutputStream().write(hello);
            open.setSoTimeout(15_000);
            await().atMost(Duration.ofSeconds(5)).until(() -> metric(admin).contains("outcome=\"routed\"} 1.0"));
            long start = System.nanoTime();
            p.destroy();
            assertThat(open.getInputStream().read()).as("closed by the gateway at the drain timeout").isEqualTo(-1);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(800), Duration.ofSeconds(10));
        }
        assertThat(p.waitFor(15, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isZero();
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String metric(int admin) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        } catch (Exception e) {
            return "";
        }
    }
}
