package io.meshgate.gateway.discovery;

import static io.meshgate.routing.kubernetes.KubernetesObjects.port;
import static io.meshgate.routing.kubernetes.KubernetesObjects.ready;
import static io.meshgate.routing.kubernetes.KubernetesObjects.service;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slice;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slicePort;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.RawBackend;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.gateway.testing.TlsPeers;
import io.meshgate.routing.kubernetes.MockApiServer;
import io.micrometer.core.instrument.Counter;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The egress listener sends callers to another cluster's east-west gateway when the local
 * cluster has no endpoint, SNI and bytes unchanged; east-west listeners never do (no loops).
 */
class EgressTest {

    @AutoClose
    static final TlsPeers tls = TlsPeers.forClass();
    static final byte[] hello = tls.sniHello();

    @TempDir
    Path dir;

    private Path kubeconfig(String name, MockApiServer api) {
        return api.writeKubeconfig(dir.resolve(name + ".kubeconfig"));
    }

    /** httpbin, exported (discovery.export defaults to labelled: unlabelled, no cluster would offer it). */
    private static void httpbin(MockApiServer api, String ip) {
        io.fabric8.kubernetes.api.model.Service httpbin = service("default", "httpbin", port("http", 8080));
        httpbin.getMetadata().setLabels(java.util.Map.of(io.meshgate.routing.kubernetes.ExportPolicy.LABEL, "true"));
        api.apply(httpbin,
                slice("default", "httpbin-1", "httpbin", List.of(slicePort("http", 8080)), ready(ip)));
    }

    private static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void egressReachesTheRemoteGatewayAndEastWestNeverDoes() throws Exception {
        try (MockApiServer clusterA = MockApiServer.start(); MockApiServer clusterC = MockApiServer.start();
             RawBackend gatewayA = new RawBackend(RawBackend.RECORD)) {
            httpbin(clusterA, "10.1.0.7");
            httpbin(clusterC, "10.3.0.7");
            clusterC.apply(slice("default", "httpbin-2", "httpbin", List.of(slicePort("http", 8080)), ready("10.3.0.8")));
            int downGateway = closedPort();
            TestConfig config = TestConfig.gateway().listener("eastwest", "passthrough").listener("egress", "egress")
                    .remoteCluster("cluster-a", kubeconfig("a", clusterA).toString(), gatewayA.endpoint())
                    .remoteCluster("cluster-c", kubeconfig("c", clusterC).toString(), "127.0.0.1:" + downGateway);
            try (RunningGateway gw = RunningGateway.start(dir, config)) {
                await().atMost(Duration.ofSeconds(10)).until(() ->
                        gw.gateway().router().remoteGateways(io.meshgate.routing.OutboundSni.parse(TlsPeers.SNI).get()).size() == 2);
                assertThat(gw.admin("/readyz").statusCode()).isEqualTo(200);

                // cluster-c has more endpoints so it is tried first; its gateway is down, so cluster-a takes it.
                InetSocketAddress egress = gw.address("egress");
                try (Socket s = new Socket(egress.getAddress(), egress.getPort())) {
                    s.getOutputStream().write(hello);
                    await().atMost(Duration.ofSeconds(10)).until(() -> gatewayA.connections().size() == 1
                            && gatewayA.connections().get(0).size() == hello.length);
                }
                assertThat(gatewayA.connections().get(0).bytes()).as("SNI and hello unchanged").isEqualTo(hello);
                Counter toA = gw.gateway().metrics().registry().find("meshgate.upstream.connections")
                        .tags("listener", "egress", "cluster", "cluster-a").counter();
                assertThat(toA).isNotNull();
                assertThat(toA.count()).isEqualTo(1);

                // The same name arriving from another cluster is never sent on: no loops.
                InetSocketAddress eastwest = gw.address("eastwest");
                try (Socket s = new Socket(eastwest.getAddress(), eastwest.getPort())) {
                    s.setSoTimeout(5000);
                    s.getOutputStream().write(hello);
                    InputStream in = s.getInputStream();
                    assertThat(in.read()).isEqualTo(-1);
                }
                await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes("eastwest", "no_route") == 1);
                assertThat(gatewayA.accepted()).isEqualTo(1);

                String resolve = gw.admin("/debug/resolve?sni=" + TlsPeers.SNI).body();
                assertThat(resolve).contains("no-such-service").contains("cluster-a").contains("cluster-c");
                String routes = gw.admin("/debug/routes").body();
                assertThat(routes).contains("\"gateway\" : \"" + gatewayA.endpoint() + "\"").contains("\"local\" : false");
            }
        }
    }
}
