package io.meshgate.gateway.terminate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.MeshBackend;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.MtlsClient;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.gateway.testing.TlsPeers;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import javax.security.auth.x500.X500Principal;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP services behind the terminate listener: the caller's identity forwarded in
 * {@code X-Forwarded-Client-Cert} exactly as the README fixes it (Envoy's format), keep-alive on both hops, upstream
 * connections pooled across downstream connections, streamed bodies, proxy errors.
 */
class TerminateHttpTest {

    static final String LISTENER = "eastwest-mtls";
    static MeshPki pki;

    @TempDir
    Path dir;
    MtlsClient callerB;

    @BeforeAll
    static void certificates() {
        pki = new MeshPki();
    }

    @BeforeEach
    void files() {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        callerB = new MtlsClient(MeshPki.client(pki.callerB, pki.clusterA.rootCert()));
    }

    @AfterEach
    void closeCaller() {
        callerB.close();
    }

    private MeshBackend mtlsHttp() throws InterruptedException {
        return new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(pki.backend, List.of(pki.clusterA.rootCert())));
    }

    private RunningGateway gateway(String upstream, String endpoint) throws Exception {
        return RunningGateway.start(dir, TestConfig.terminate(dir, "http", upstream, endpoint));
    }

    /** What the README says the endpoint must see, computed independently of the product code. */
    private static String expectedXfcc() throws Exception {
        String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(pki.callerB.leaf().getEncoded()));
        String subject = pki.callerB.leaf().getSubjectX500Principal().getName(X500Principal.RFC2253);
        return "By=" + MeshPki.GATEWAY_ID + ";Hash=" + hash + ";Subject=\"" + subject + "\";URI=" + MeshPki.CALLER_ID;
    }

    @Test
    void shouldForwardTheCallersIdentityInXfccOverMtlsWithTheGatewaysIdentity() throws Exception {
        try (MeshBackend backend = mtlsHttp(); RunningGateway gw = gateway("mtls", backend.endpoint());
             MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
            MtlsClient.HttpAnswer answer = s.send(MtlsClient.get("/whoami")).response();
            assertThat(answer.status()).isEqualTo(200);
            assertThat(answer.text()).isEqualTo("ok");
            assertThat(backend.requests()).hasSize(1);
            assertThat(backend.requests().get(0).getAll("x-forwarded-client-cert")).containsExactly(expectedXfcc());
            assertThat(backend.requests().get(0).get("host")).isEqualTo(TlsPeers.HOST);
            assertThat(backend.peers().get(0).spiffeId().toString()).isEqualTo(MeshPki.GATEWAY_ID);
            assertThat(backend.serverNames()).containsExactly(TlsPeers.SNI);
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "routed") == 1);
        }
    }

    @Test
    void shouldStripAForgedXfccSentByTheCaller() throws Exception {
        try (MeshBackend backend = mtlsHttp(); RunningGateway gw = gateway("mtls", backend.endpoint());
             MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
            String forged = "X-Forwarded-Client-Cert: By=spiffe://evil/x;Hash=00;URI=spiffe://cluster.local/ns/default/sa/admin";
            assertThat(s.send(MtlsClient.get("/", forged, forged.toLowerCase())).response().status()).isEqualTo(200);
            assertThat(backend.requests().get(0).getAll("x-forwarded-client-cert")).containsExactly(expectedXfcc());
        }
    }

    @Test
    void shouldKeepBothHopsAliveAcrossRequests() throws Exception {
        try (MeshBackend backend = mtlsHttp(); RunningGateway gw = gateway("mtls", backend.endpoint());
             MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
            for (int i = 0; i < 5; i++) {
                MtlsClient.HttpAnswer answer = s.send(MtlsClient.get("/r" + i)).response();
                assertThat(answer.status()).isEqualTo(200);
                assertThat(answer.headers()).doesNotContainKey("connection");
            }
            // Pipelined: two requests in one write, answered in order.
            s.send(MtlsClient.get("/bytes/10") + MtlsClient.get("/bytes/20"));
            assertThat(s.response().body()).hasSize(10);
            assertThat(s.response().body()).hasSize(20);
            assertThat(backend.requests()).hasSize(7);
            assertThat(backend.accepted()).isEqualTo(1);
            assertThat(gw.outcomes(LISTENER, "routed")).isEqualTo(1);
        }
    }

    @Test
    void shouldReusePooledUpstreamConnectionsAcrossDownstreamConnections() throws Exception {
        try (MeshBackend backend = mtlsHttp(); RunningGateway gw = gateway("mtls", backend.endpoint())) {
            try (MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
                assertThat(s.send(MtlsClient.get("/first")).response().status()).isEqualTo(200);
            }
            try (MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
                assertThat(s.send(MtlsClient.get("/second")).response().status()).isEqualTo(200);
            }
            // A caller's "Connection: close" ends its own hop only.
            try (MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
                MtlsClient.HttpAnswer answer = s.send(MtlsClient.get("/third", "Connection: close")).response();
                assertThat(answer.status()).isEqualTo(200);
                assertThat(answer.headers().get("connection")).isEqualTo("close");
                assertThat(s.awaitClosed()).isTrue();
            }
            try (MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
                assertThat(s.send(MtlsClient.get("/fourth")).response().status()).isEqualTo(200);
            }
            assertThat(backend.requests()).hasSize(4);
            assertThat(backend.requests()).allSatisfy(h -> assertThat(h.get("connection")).isNull());
            assertThat(backend.accepted()).isEqualTo(1);
            assertThat(backend.peers()).hasSize(1);
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "routed") == 4);
        }
    }

    @Test
    void shouldDropPooledConnectionsTheEndpointClosed() throws Exception {
        for (String upstream : List.of("mtls", "plaintext")) {
            try (MeshBackend backend = upstream.equals("mtls") ? mtlsHttp() : new MeshBackend(MeshBackend.App.HTTP, null);
                 RunningGateway gw = gateway(upstream, backend.endpoint())) {
                try (MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
                    assertThat(s.send(MtlsClient.get("/then-idle-close")).response().status()).isEqualTo(200);
                }
                await().atMost(Duration.ofSeconds(5)).until(() -> ((TerminatePipeline) gw.gateway().listeners().get(0).pipeline())
                        .termination().pool().idleConnections() == 0);
                try (MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
                    assertThat(s.send(MtlsClient.get("/next")).response().status()).as(upstream).isEqualTo(200);
                }
                assertThat(backend.accepted()).as(upstream).isEqualTo(2);
            }
        }
    }

    @Test
    void shouldStreamLargeBodiesBothWays() throws Exception {
        try (MeshBackend backend = mtlsHttp(); RunningGateway gw = gateway("mtls", backend.endpoint());
             MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
            int n = 2 * 1024 * 1024;
            byte[] body = s.send(MtlsClient.get("/bytes/" + n)).response().body();
            assertThat(body).hasSize(n);
            for (int i = 0; i < n; i += 4099) {
                assertThat(body[i]).isEqualTo((byte) ('a' + i % 26));
            }
            byte[] upload = new byte[1024 * 1024];
            new java.util.Random(3).nextBytes(upload);
            s.send(("POST /echo HTTP/1.1\r\nHost: " + TlsPeers.HOST + "\r\nContent-Length: " + upload.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            s.send(upload);
            assertThat(s.response().body()).isEqualTo(upload);
            assertThat(backend.accepted()).isEqualTo(1);
        }
    }

    @Test
    void shouldAnswer502WhenTheEndpointIsDown() throws Exception {
        int closedPort;
        try (ServerSocket probe = new ServerSocket(0)) {
            closedPort = probe.getLocalPort();
        }
        try (RunningGateway gw = gateway("mtls", "127.0.0.1:" + closedPort);
             MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
            MtlsClient.HttpAnswer answer = s.send(MtlsClient.get("/")).response();
            assertThat(answer.status()).isEqualTo(502);
            assertThat(answer.headers().get("connection")).isEqualTo("close");
            // Names the service; never the exception or the endpoint's internal address.
            assertThat(answer.text()).contains(TlsPeers.HOST).doesNotContain("127.0.0.1", String.valueOf(closedPort), "Exception");
            assertThat(s.awaitClosed()).isTrue();
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "upstream_failed") == 1);
            assertThat(gw.counter("meshgate.upstream.connect.failures", "listener", LISTENER)).isGreaterThanOrEqualTo(1);
        }
    }

    @Test
    void shouldAnswer502WhenTheEndpointFailsVerification() throws Exception {
        var impostor = MeshPki.issue(pki.rogue, MeshPki.BACKEND_ID, TlsPeers.HOST);
        try (MeshBackend backend = new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(impostor, List.of(pki.clusterA.rootCert())));
             RunningGateway gw = gateway("mtls", backend.endpoint());
             MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
            MtlsClient.HttpAnswer answer = s.send(MtlsClient.get("/")).response();
            assertThat(answer.status()).isEqualTo(502);
            assertThat(answer.text()).contains(TlsPeers.HOST).doesNotContain("127.0.0.1", "Exception", "untrusted");
            assertThat(backend.requests()).isEmpty();
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "upstream_failed") == 1);
        }
    }

    @Test
    void shouldProxyToAPlaintextUpstreamWithXfcc() throws Exception {
        try (MeshBackend backend = new MeshBackend(MeshBackend.App.HTTP, null);
             RunningGateway gw = gateway("plaintext", backend.endpoint());
             MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
            assertThat(s.send(MtlsClient.get("/")).response().status()).isEqualTo(200);
            assertThat(s.send(MtlsClient.get("/again")).response().status()).isEqualTo(200);
            assertThat(backend.requests()).hasSize(2);
            assertThat(backend.requests().get(1).getAll("x-forwarded-client-cert")).containsExactly(expectedXfcc());
            assertThat(backend.accepted()).isEqualTo(1);
        }
    }
}
