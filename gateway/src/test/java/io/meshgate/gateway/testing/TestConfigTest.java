package io.meshgate.gateway.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.GatewaySpec;
import io.meshgate.gateway.config.GatewaySpec.ListenerMode;
import io.meshgate.gateway.config.GatewaySpec.UpstreamTls;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the test-config builder writes is a config the real loader and binder accept, with the values asked for. */
class TestConfigTest {

    @TempDir
    Path dir;

    private GatewaySpec bind(TestConfig config) {
        return ConfigLoader.loadSpec(config.write(dir));
    }

    @Test
    void shouldBindTheTerminateSetupWithEveryKeyATestSets() {
        new MeshPki().writeGatewayFiles(dir);
        GatewaySpec spec = bind(TestConfig.terminate(dir, "http", "plaintext", "127.0.0.1:9080", "127.0.0.1:9081")
                .maxConnections("eastwest-mtls", 7).timeout("idle", "400ms").balancing("round-robin")
                .set("loadBalancing.connectAttempts", 2).accessLog("access.json"));

        assertThat(spec.listeners()).singleElement().satisfies(l -> {
            assertThat(l.name()).isEqualTo("eastwest-mtls");
            assertThat(l.mode()).isEqualTo(ListenerMode.TERMINATE);
            assertThat(l.address().port()).isZero();
            assertThat(l.maxConnections()).isEqualTo(7);
        });
        assertThat(spec.adminAddress().port()).isZero();
        assertThat(spec.discovery().staticServices()).singleElement().satisfies(s -> {
            assertThat(s.host()).isEqualTo(TlsPeers.HOST);
            assertThat(s.port()).isEqualTo(8080);
            assertThat(s.protocol()).isEqualTo(AppProtocol.HTTP);
            assertThat(s.endpoints()).containsExactly(Endpoint.of("127.0.0.1", 9080), Endpoint.of("127.0.0.1", 9081));
        });
        assertThat(spec.tls()).hasValueSatisfying(t -> {
            assertThat(t.upstream()).isEqualTo(UpstreamTls.PLAINTEXT);
            assertThat(t.allowedTrustDomains()).containsExactly("cluster.local");
        });
        assertThat(spec.runtime().workers()).isEqualTo(1);
        assertThat(spec.timeouts().idle()).isEqualTo(Duration.ofMillis(400));
        assertThat(spec.balancing().policy()).isEqualTo(GatewaySpec.BalancingPolicy.ROUND_ROBIN);
        assertThat(spec.balancing().connectAttempts()).isEqualTo(2);
        assertThat(spec.accessLog()).isPresent();
    }

    @Test
    void shouldCarryEachRelayModesRuntime() {
        GatewaySpec spec = bind(RelayMode.AUTO_SPLICE_BUSY_POLL.passthrough("127.0.0.1:1"));
        assertThat(spec.runtime().transport()).isEqualTo(GatewaySpec.TransportKind.EPOLL);
        assertThat(spec.runtime().splice()).isEqualTo(GatewaySpec.SpliceMode.AUTO);
        assertThat(spec.runtime().spliceThreshold()).isEqualTo(1024);
        assertThat(spec.runtime().busyPoll()).isEqualTo(Duration.ofNanos(200_000));
        assertThat(spec.discovery().staticServices().get(0).protocol()).isEqualTo(AppProtocol.TCP);
    }

    @Test
    void shouldMergeAYamlFragmentSectionBySection() {
        TestConfig config = TestConfig.passthrough("127.0.0.1:1").workers(3)
                .merge("runtime: {transport: nio}\nloadBalancing: {policy: round-robin}\n").merge("");
        GatewaySpec spec = bind(config);
        assertThat(spec.runtime().workers()).as("kept beside the merged key").isEqualTo(3);
        assertThat(spec.runtime().transport()).isEqualTo(GatewaySpec.TransportKind.NIO);
        assertThat(spec.balancing().policy()).isEqualTo(GatewaySpec.BalancingPolicy.ROUND_ROBIN);
        assertThat(config.warmsUp()).isFalse();
        assertThat(config.warmup("1s").warmsUp()).isTrue();
    }

    @Test
    void shouldListClustersInOrder() throws Exception {
        java.nio.file.Files.writeString(dir.resolve("c.kubeconfig"), "");
        java.nio.file.Files.writeString(dir.resolve("a.kubeconfig"), "");
        GatewaySpec spec = bind(TestConfig.gateway().listener("egress", "egress")
                .remoteCluster("cluster-c", "c.kubeconfig", "127.0.0.1:15443").cluster("cluster-a", "a.kubeconfig"));
        assertThat(spec.discovery().clusters()).extracting(c -> c.name()).isEqualTo(List.of("cluster-c", "cluster-a"));
    }
}
