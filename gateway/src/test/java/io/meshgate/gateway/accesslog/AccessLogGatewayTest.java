package io.meshgate.gateway.accesslog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshgate.gateway.testing.MeshBackend;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.MtlsClient;
import io.meshgate.gateway.testing.RelayMode;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.gateway.testing.TlsPeers;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code accessLog:} through real listeners: one JSON line per connection once it has closed,
 * with its route, endpoint, bytes each way and outcome; in terminate mode the caller's SPIFFE ID.
 */
class AccessLogGatewayTest {

    @AutoClose
    static final TlsPeers tls = TlsPeers.forClass();
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private List<JsonNode> lines(Path file, int expected) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(file) && Files.readAllLines(file).size() >= expected);
        for (String line : Files.readAllLines(file)) {
            out.add(JSON.readTree(line));
        }
        return out;
    }

    private static void sendAndAwaitClose(InetSocketAddress gateway, byte[] bytes) throws Exception {
        try (Socket s = new Socket(gateway.getAddress(), gateway.getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(bytes);
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            assertThat(in.read()).isEqualTo(-1);
        }
    }

    @Test
    void shouldLogEachPassthroughConnectionWithItsFate() throws Exception {
        InetSocketAddress echo = tls.echoServer();
        String endpoint = "127.0.0.1:" + echo.getPort();
        Path file = dir.resolve("access.json");
        try (RunningGateway gw = RunningGateway.start(dir, RelayMode.COPY_NIO.passthrough(endpoint).accessLog("access.json"))) {
            byte[] payload = "ping through the mesh".getBytes(StandardCharsets.UTF_8);
            assertThat(tls.echo(gw.address(), TlsPeers.SNI, payload, null)).isEqualTo(payload);
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes("eastwest", "routed") == 1);
            sendAndAwaitClose(gw.address(), tls.clientHello("outbound_.8080_._.nothing.default.svc.cluster.local"));
            sendAndAwaitClose(gw.address(), "GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));

            Map<String, JsonNode> byOutcome = lines(file, 3).stream()
                    .collect(Collectors.toMap(j -> j.get("outcome").asText(), j -> j));
            assertThat(byOutcome).containsOnlyKeys("routed", "no_route", "bad_hello");

            JsonNode routed = byOutcome.get("routed");
            assertThat(routed.get("listener").asText()).isEqualTo("eastwest");
            assertThat(routed.get("peer").asText()).startsWith("127.0.0.1:");
            assertThat(routed.get("sni").asText()).isEqualTo(TlsPeers.SNI);
            assertThat(routed.get("route").asText()).isEqualTo(TlsPeers.HOST + ":8080");
            assertThat(routed.get("cluster").asText()).isEqualTo("static");
            assertThat(routed.get("endpoint").asText()).isEqualTo(endpoint);
            assertThat(routed.has("peerIdentity")).as("passthrough sees no identity").isFalse();
            // TLS records both ways: more than the payload, the hello included upstream.
            assertThat(routed.get("bytesToUpstream").asLong()).isGreaterThan(payload.length + 200L);
            assertThat(routed.get("bytesToDownstream").asLong()).isGreaterThan(payload.length);
            assertThat(routed.get("durationMs").asDouble()).isPositive();

            JsonNode noRoute = byOutcome.get("no_route");
            assertThat(noRoute.get("route").asText()).isEqualTo("nothing.default.svc.cluster.local:8080");
            assertThat(noRoute.has("endpoint")).isFalse();
            assertThat(noRoute.has("bytesToUpstream")).isFalse();
            assertThat(noRoute.get("bytesToDownstream").asLong()).isZero();

            assertThat(byOutcome.get("bad_hello").has("sni")).isFalse();
            assertThat(gw.counter("meshgate.access.log.lines")).isEqualTo(3);
            assertThat(gw.counter("meshgate.access.log.dropped")).isZero();
        }
    }

    @Test
    void shouldNameTheCallersSpiffeIdInTerminateMode() throws Exception {
        MeshPki pki = new MeshPki();
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        Path file = dir.resolve("access.json");
        try (MeshBackend backend = new MeshBackend(MeshBackend.App.TCP_ECHO, null);
             RunningGateway gw = RunningGateway.start(dir, TestConfig.terminate(dir, "tcp", "plaintext", backend.endpoint())
                     .accessLog(file.toString()));
             MtlsClient caller = new MtlsClient(MeshPki.client(pki.callerB, pki.clusterA.rootCert()))) {
            try (MtlsClient.Session s = caller.connect(gw.address(), TlsPeers.SNI)) {
                assertThat(s.handshakeFailure()).isNull();
                assertThat(s.send("hello").read(5)).isEqualTo("hello".getBytes(StandardCharsets.UTF_8));
            }
            JsonNode line = lines(file, 1).get(0);
            assertThat(line.get("listener").asText()).isEqualTo("eastwest-mtls");
            assertThat(line.get("peerIdentity").asText()).isEqualTo(MeshPki.CALLER_ID);
            assertThat(line.get("endpoint").asText()).isEqualTo(backend.endpoint());
            assertThat(line.get("outcome").asText()).isEqualTo("routed");
            assertThat(line.get("bytesToUpstream").asLong()).isEqualTo(5);
        }
    }
}
