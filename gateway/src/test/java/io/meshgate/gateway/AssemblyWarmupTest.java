package io.meshgate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.accesslog.AccessLog;
import io.meshgate.gateway.config.ConfigBinder;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.GatewaySpec;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.metrics.GatewayMetrics;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The warm-up's listener runs the real kinds of meters and route tables, and leaves no trace. */
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
}
