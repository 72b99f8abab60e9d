package io.meshgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.accesslog.AccessLog;
import io.meshgate.gateway.config.ConfigBinder;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.GatewaySpec;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.metrics.GatewayMetrics;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.config.GatewaySpec.WarmupSpec;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.gateway.testing.UnhandledExceptions;
import io.meshgate.gateway.warmup.Warmup;
import io.netty.channel.EventLoopGroup;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The warm-up's listener runs the real kinds of meters and route tables, and leaves no trace. */
@ExtendWith(UnhandledExceptions.class)
class AssemblyWarmupTest {

    @TempDir
    Path dir;

    @Test
    void warmupMetersAreOfTheRealKindButNeverScraped() {
        Path file = TestConfig.passthrough("127.0.0.1:9").write(dir);
        GatewaySpec spec = ConfigBinder.bind(ConfigLoader.load(file), file);
        try (GatewayMetrics metrics = new GatewayMetrics()) {
            Assembly assembly = new Assembly(spec, metrics.registry());
            Router router = new Router(List.of());
            ListenerMetrics real = assembly.listener(spec.listeners().get(0), router, Optional.empty(), AccessLog.OFF)
                    .context().metrics();
            Listener warmup = assembly.warmupListener(router);
            ListenerMetrics warm = warmup.context().metrics();
            warm.bytesToUpstream().increment(1234);
            warm.upstreamConnected(250_000);
            warm.upstreamConnection("static");

            // The JIT compiles each meter update for the classes it saw: the warm-up's must be the real ones.
            assertThat(warm.bytesToUpstream().getClass()).isEqualTo(real.bytesToUpstream().getClass());
            assertThat(warm.splicedToDownstream().getClass()).isEqualTo(real.splicedToDownstream().getClass());
            String scrape = metrics.scrape();
            assertThat(scrape).contains("listener=\"eastwest\"").doesNotContain("warmup");
        }
    }

    @Test
    void warmupRoutesAreLookedUpBehindTheGatewaysOwnSources() {
        StaticRoutes gatewayRoutes = new StaticRoutes(List.of(new StaticRoutes.StaticService("a.demo.svc.cluster.local", 80,
                List.of(Endpoint.of("127.0.0.1", 1)), AppProtocol.TCP)));
        StaticRoutes warmupRoutes = new StaticRoutes(List.of(new StaticRoutes.StaticService("warmup.meshgate.invalid", 8080,
                List.of(Endpoint.of("127.0.0.1", 2)), AppProtocol.TCP)));

        Router both = Assembly.behindGatewaySources(new Router(List.of(gatewayRoutes)), new Router(List.of(warmupRoutes)));

        assertThat(both.sources()).containsExactly(gatewayRoutes, warmupRoutes);
        Resolution r = both.resolve(OutboundSni.format("warmup.meshgate.invalid", 8080));
        assertThat(r).isInstanceOfSatisfying(Resolution.Routed.class,
                routed -> assertThat(routed.endpoints().endpoints()).containsExactly(Endpoint.of("127.0.0.1", 2)));
    }

    /**
     * A terminate-only gateway warms up through a terminate listener of the real kind (the real
     * limits, timeouts and {@code tls.upstream}) with material of its own: every caller shape
     * completes (h2 to grpc and http2 endpoints, h2 to HTTP/1.1, HTTP/1.1 to both, half of the h2
     * callers ending with a GOAWAY; the endpoints ending their connections after 100 requests), and
     * nothing of it is left: no meter in the gateway's registry, no file of its PKI.
     */
    @ParameterizedTest(name = "tls.upstream {0}, http2.maxConcurrentStreams {1}, http2.maxConnectionAge {2}")
    @CsvSource({"mtls, 100, 0s", "plaintext, 100, 0s", "mtls, 3, 0s", "mtls, 100, 20ms"})
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void terminateWarmupCompletesEveryShapeThroughARealTerminateListenerAndLeavesNoTrace(String upstream, int maxStreams,
                                                                                        String maxAge) throws Exception {
        MeshPki pki = new MeshPki();
        pki.writeGatewayFiles(dir, pki.clusterA);
        // The listener's own limits apply: fewer streams than a caller wants at once, connections drained by age.
        Path file = TestConfig.terminate(dir, "http2", upstream, "127.0.0.1:9").warmup("1s")
                .set("http2.maxConcurrentStreams", maxStreams).set("http2.maxConnectionAge", maxAge).write(dir);
        GatewaySpec spec = ConfigBinder.bind(ConfigLoader.load(file), file);
        List<Path> tempBefore = warmupTempDirs();
        try (GatewayMetrics metrics = new GatewayMetrics()) {
            Assembly assembly = new Assembly(spec, metrics.registry());
            assertThat(assembly.warmsUpTerminate()).isTrue();
            assertThat(assembly.warmsUpPassthrough()).as("no passthrough listener").isFalse();
            EventLoopGroup group = assembly.transport().newGroup(1, "meshgate-warmup-test");
            long socketsBefore = openSockets();
            try {
                // 320 connections' worth: 16 terminate connections, every shape twice (both caller endings).
                Warmup.Result r = Warmup.runTerminate(group, assembly.transport(),
                        new WarmupSpec(Duration.ofMillis(1), 320, Duration.ofSeconds(90)), spec.tls().orElseThrow().upstream(),
                        (routes, material) -> assembly.terminateWarmupListener(routes, material), () -> false);
                assertThat(r.capped()).isFalse();
                assertThat(r.connections()).isGreaterThanOrEqualTo(16);
                assertThat(r.failed()).isZero();
                assertThat(r.cutOff()).isZero();
                assertThat(r.bytes()).as("1 KiB answers").isGreaterThan(16 * 1024L);
                // The upstream pools' connections to the warm-up's endpoints go too, not only the callers'.
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).untilAsserted(() ->
                        assertThat(openSockets()).as("sockets left open by the warm-up").isLessThanOrEqualTo(socketsBefore));
            } finally {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            }
            assertThat(metrics.scrape()).doesNotContain("warmup");
        }
        assertThat(warmupTempDirs()).as("the warm-up PKI's files").isEqualTo(tempBefore);
    }

    /** The sockets this JVM has open (each a descriptor linked to {@code socket:[inode]}). */
    private static long openSockets() throws java.io.IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString().startsWith("socket:");
                } catch (java.io.IOException e) {
                    return false; // closed meanwhile
                }
            }).count();
        }
    }

    private static List<Path> warmupTempDirs() throws java.io.IOException {
        try (Stream<Path> all = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return all.filter(p -> p.getFileName().toString().startsWith("meshgate-warmup-")).sorted().toList();
        }
    }
}
