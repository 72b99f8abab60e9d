package io.meshgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.admin.AdminServer;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.TestConfig;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The admin server is up during the warm-up, not ready; the listeners bind after it. */
class StartOrderTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void adminAnswersNotReadyDuringTheWarmupAndReadyOnceTheListenersAreBound() throws Exception {
        Path file = TestConfig.passthrough("127.0.0.1:9").set("runtime.transport", "epoll").workers(1).warmup("3s")
                .set("runtime.warmupConnections", 0).write(dir); // the time alone: 3 s, however fast the host
        Gateway gateway = new Gateway(ConfigLoader.load(file), file);
        try {
            CompletableFuture<Gateway> started = startWarmingUp(gateway);
            // The warm-up takes 3 s from its first connection: the admin server is up well before it ends.
            assertThat(gateway.ready()).as("ready when the admin server came up").isFalse();
            AdminServer admin = gateway.admin();
            int readyz = get(admin.localAddress(), "/readyz");
            if (!gateway.ready()) { // not ready after the answer: it was not ready when it answered either
                assertThat(readyz).isEqualTo(503);
            }
            assertThat(get(admin.localAddress(), "/healthz")).isEqualTo(200);
            started.get(60, TimeUnit.SECONDS);
            assertThat(get(gateway.admin().localAddress(), "/readyz")).isEqualTo(200);
            assertThat(gateway.listeners()).hasSize(1).allMatch(l -> l.bound());
        } finally {
            gateway.close();
        }
    }

    /**
     * A terminate-only gateway warms its terminate path up (it has no passthrough listener to warm
     * up), then binds and is ready; every warm-up connection completed.
     */
    @Test
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void aTerminateOnlyGatewayWarmsUpThroughATerminateListenerBeforeItBinds() throws Exception {
        Path file = terminateConfig().warmup("1ms").set("runtime.warmupConnections", 160).write(dir);
        Gateway gateway = new Gateway(ConfigLoader.load(file), file);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = capture();
        try {
            gateway.start();
            assertThat(get(gateway.admin().localAddress(), "/readyz")).isEqualTo(200);
            assertThat(gateway.listeners()).hasSize(1).allMatch(l -> l.bound());
            assertThat(lines.list).map(e -> e.getFormattedMessage())
                    .anySatisfy(m -> assertThat(m).startsWith("warm-up (terminate): ").contains("(target 8 in")
                            .doesNotContain("failed", "cut off"))
                    .noneSatisfy(m -> assertThat(m).startsWith("warm-up: "));
        } finally {
            release(lines);
            gateway.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"passthrough", "terminate"})
    @Timeout(value = 90, unit = TimeUnit.SECONDS)
    void aDrainDuringTheWarmupEndsItAtOnceBindsNothingAndLogsNoStackTrace(String mode) throws Exception {
        // A pod deleted while it starts: SIGTERM arrives during a warm-up that would run 60 s.
        TestConfig config = mode.equals("terminate") ? terminateConfig() : TestConfig.passthrough("127.0.0.1:9");
        Path file = config.set("runtime.transport", "epoll").workers(1).warmup("60s")
                .set("runtime.warmupConnections", 0).set("runtime.warmupMax", "60s").write(dir);
        Gateway gateway = new Gateway(ConfigLoader.load(file), file);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = capture();
        try {
            CompletableFuture<Gateway> started = startWarmingUp(gateway);
            Thread.sleep(500); // the warm-up's connections are under way
            long before = System.nanoTime();
            gateway.drain(); // what SIGTERM runs
            assertThat(Duration.ofNanos(System.nanoTime() - before)).as("the drain waited for the warm-up's budget")
                    .isLessThan(Duration.ofSeconds(15));
            assertThat(started.get(5, TimeUnit.SECONDS)).isSameAs(gateway); // the start returned, without an error
            assertThat(gateway.listeners()).as("nothing binds after the signal").isEmpty();
            assertThat(gateway.ready()).isFalse();
            assertThat(lines.list).as("no warning, error or stack trace for an expected stop")
                    .noneMatch(e -> e.getLevel().isGreaterOrEqual(ch.qos.logback.classic.Level.WARN) || e.getThrowableProxy() != null);
        } finally {
            release(lines);
            gateway.close();
        }
    }

    private TestConfig terminateConfig() {
        MeshPki pki = new MeshPki();
        pki.writeGatewayFiles(dir, pki.clusterA);
        return TestConfig.terminate(dir, "http2", "mtls", "127.0.0.1:9");
    }

    private static ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> capture() {
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines =
                new ch.qos.logback.core.read.ListAppender<>();
        lines.start();
        root().addAppender(lines);
        return lines;
    }

    private static void release(ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines) {
        root().detachAppender(lines);
    }

    private static ch.qos.logback.classic.Logger root() {
        return (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    }

    /** Starts {@code gateway} on another thread and returns once its admin server is up (the warm-up runs). */
    private static CompletableFuture<Gateway> startWarmingUp(Gateway gateway) {
        CompletableFuture<Gateway> started = CompletableFuture.supplyAsync(() -> {
            try {
                return gateway.start();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> gateway.admin() != null);
        return started;
    }

    private static int get(InetSocketAddress admin, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.getPort() + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    }
}
