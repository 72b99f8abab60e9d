package io.meshgate.gateway.terminate;

import io.meshgate.routing.OutboundSni;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.MeshBackend;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.MtlsClient;
import io.meshgate.gateway.testing.RawBackend;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TlsPeers;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The terminate listener's handshake with callers (who is accepted, who is refused and how it is
 * counted) and its TCP services: the decrypted stream re-originated to the endpoint over mTLS with
 * the gateway's identity and the caller's routing name, or over plaintext.
 */
class TerminateHandshakeTest {

    static final String LISTENER = "eastwest-mtls";
    static MeshPki pki;
    static ClusterCa foreign;
    static TlsPeers hello;

    @TempDir
    Path dir;

    @BeforeAll
    static void certificates() throws Exception {
        pki = new MeshPki();
        foreign = ClusterCa.create("cluster-f", "other.example", Instant.now());
        hello = new TlsPeers();
    }

    @AfterAll
    static void close() {
        hello.close();
    }

    private MeshBackend mtlsEcho() throws InterruptedException {
        return new MeshBackend(MeshBackend.App.TCP_ECHO, MeshPki.server(pki.backend, List.of(pki.clusterA.rootCert())));
    }

    private MtlsClient caller(IssuedIdentity identity) {
        return new MtlsClient(MeshPki.client(identity, pki.clusterA.rootCert()));
    }

    private static byte[] echo(MtlsClient client, RunningGateway gw, String text) throws Exception {
        try (MtlsClient.Session s = client.connect(gw.address(), TlsPeers.SNI)) {
            assertThat(s.handshakeFailure()).isNull();
            return s.send(text).read(text.length());
        }
    }

    @Test
    void shouldAcceptCallerOfClusterBOnceItsRootIsInTheBundle() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA);
        try (MeshBackend backend = mtlsEcho();
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", backend.endpoint(), ""));
             MtlsClient callerB = caller(pki.callerB)) {
            try (MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
                s.send("before");
                assertThat(s.awaitClosed()).isTrue();
                assertThat(s.available()).isZero();
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "denied") == 1);

            MeshPki.writeBundle(dir, pki.clusterA, pki.clusterB);
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> gw.gateway().tls().orElseThrow().current().bundle().roots().size() == 2);
            assertThat(new String(echo(callerB, gw, "after B joined"), StandardCharsets.UTF_8)).isEqualTo("after B joined");
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "routed") == 1);
            assertThat(gw.handshakes(LISTENER, "ok")).isEqualTo(1);
            assertThat(gw.handshakes(LISTENER, "denied")).isEqualTo(1);
        }
    }

    @Test
    void shouldRelayTcpOverMtlsWithTheGatewaysIdentityAndTheOriginalSniVerbatim() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        try (MeshBackend backend = mtlsEcho();
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", backend.endpoint(), ""));
             MtlsClient callerB = caller(pki.callerB)) {
            byte[] big = new byte[3 * 1024 * 1024];
            new java.util.Random(7).nextBytes(big);
            try (MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
                assertThat(s.send(big).read(big.length)).isEqualTo(big);
            }
            assertThat(backend.serverNames()).containsExactly(TlsPeers.SNI);
            assertThat(backend.peers()).hasSize(1);
            assertThat(backend.peers().get(0).spiffeId().toString()).isEqualTo(MeshPki.GATEWAY_ID);
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "routed") == 1);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                assertThat(gw.bytes(LISTENER, "upstream")).isGreaterThan(big.length);
                assertThat(gw.bytes(LISTENER, "downstream")).isGreaterThan(big.length);
            });
        }
    }

    @Test
    void shouldRelayTcpInPlaintextWhenUpstreamIsPlaintext() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        try (MeshBackend backend = new MeshBackend(MeshBackend.App.TCP_ECHO, null);
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "plaintext", backend.endpoint(), ""));
             MtlsClient callerB = caller(pki.callerB)) {
            assertThat(new String(echo(callerB, gw, "in the clear upstream"), StandardCharsets.UTF_8))
                    .isEqualTo("in the clear upstream");
            assertThat(backend.accepted()).isEqualTo(1);
        }
    }

    @Test
    void shouldEndTheCallersStreamWithCloseNotifyWhenTheEndpointHalfCloses() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        byte[] greeting = "server speaks first, then closes its side".getBytes(StandardCharsets.UTF_8);
        RawBackend.Behaviour speakAndClose = (socket, received) -> {
            socket.getOutputStream().write(greeting);
            socket.shutdownOutput();
            received.readToEof(socket.getInputStream());
        };
        try (RawBackend backend = new RawBackend(speakAndClose);
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "plaintext", backend.endpoint(), ""));
             MtlsClient callerB = caller(pki.callerB);
             MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
            assertThat(s.read(greeting.length)).isEqualTo(greeting);
            assertThat(s.awaitClosed()).isTrue();
            assertThat(s.closeNotified()).as("a clean TLS end of stream, not a truncation").isTrue();
            await().atMost(Duration.ofSeconds(5)).until(() -> backend.connections().get(0).sawEof());
        }
    }

    @Test
    void shouldCountUpstreamFailedWhenTheEndpointFailsVerification() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        IssuedIdentity impostor = MeshPki.issue(pki.rogue, MeshPki.BACKEND_ID, TlsPeers.HOST);
        try (MeshBackend backend = new MeshBackend(MeshBackend.App.TCP_ECHO,
                     MeshPki.server(impostor, List.of(pki.clusterA.rootCert())));
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", backend.endpoint(), ""));
             MtlsClient callerB = caller(pki.callerB);
             MtlsClient.Session s = callerB.connect(gw.address(), TlsPeers.SNI)) {
            s.send("anyone there?");
            assertThat(s.awaitClosed()).isTrue();
            assertThat(s.available()).isZero();
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "upstream_failed") == 1);
            assertThat(gw.handshakes(LISTENER, "ok")).isEqualTo(1);
        }
    }

    /** Callers the listener must refuse during the handshake. */
    enum Refused {
        ROGUE_ROOT("untrusted_root", "TLSV1_ALERT_UNKNOWN_CA"), EXPIRED_LEAF("expired", "SSLV3_ALERT_CERTIFICATE_EXPIRED"),
        NO_CLIENT_CERTIFICATE("no_client_certificate", "TLSV1_ALERT_CERTIFICATE_REQUIRED"),
        FOREIGN_TRUST_DOMAIN("trust_domain_not_allowed", "TLSV1_ALERT_ACCESS_DENIED");

        /** {@code meshgate_peer_refusals_total{reason}} and the refusal log's reason. */
        final String reason;
        /** The alert the caller's BoringSSL reports over TLS 1.3. */
        final String alert;

        Refused(String reason, String alert) {
            this.reason = reason;
            this.alert = alert;
        }

        IssuedIdentity identity() {
            return switch (this) {
                case ROGUE_ROOT -> MeshPki.issue(pki.rogue, MeshPki.CALLER_ID);
                case EXPIRED_LEAF -> MeshPki.issue(pki.clusterB, MeshPki.CALLER_ID, Instant.now().minus(Duration.ofDays(10)),
                        Duration.ofDays(1));
                case NO_CLIENT_CERTIFICATE -> null;
                case FOREIGN_TRUST_DOMAIN -> MeshPki.issue(foreign, "spiffe://other.example/ns/default/sa/sleep");
            };
        }
    }

    @ParameterizedTest
    @EnumSource(Refused.class)
    void shouldDenyCallersTheBundleOrAllowedTrustDomainsDoNotCover(Refused who) throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB, foreign);
        ch.qos.logback.classic.Logger refusals = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("io.meshgate.gateway.refusals");
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = new ch.qos.logback.core.read.ListAppender<>();
        lines.start();
        refusals.addAppender(lines);
        try (MeshBackend backend = mtlsEcho();
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", backend.endpoint(), ""));
             MtlsClient client = caller(who.identity());
             MtlsClient.Session s = client.connect(gw.address(), TlsPeers.SNI)) {
            // TLS 1.3: the client may finish its side before the gateway judges its certificate.
            s.send("let me in");
            assertThat(s.awaitClosed()).isTrue();
            assertThat(s.available()).isZero();
            assertThat(String.valueOf(s.failure())).as("the alert over TLS 1.3").contains(who.alert);
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "denied") == 1);
            await("no TLS 1.3 secret outlives its connection").atMost(Duration.ofSeconds(5))
                    .until(() -> gw.gateway().tls().orElseThrow().current().serverTrafficSecrets().watching() == 0);
            assertThat(gw.handshakes(LISTENER, "denied")).isEqualTo(1);
            assertThat(gw.outcomes(LISTENER, "tls_error")).isZero();
            assertThat(backend.accepted()).isZero();
            assertThat(gw.counter("meshgate.peer.refusals", "listener", LISTENER, "reason", who.reason)).isEqualTo(1);
            await().atMost(Duration.ofSeconds(5)).until(() -> !lines.list.isEmpty());
            String line = lines.list.get(0).getFormattedMessage();
            assertThat(lines.list.get(0).getLevel()).isEqualTo(ch.qos.logback.classic.Level.INFO);
            assertThat(line).contains("listener=" + LISTENER, "peer=/127.0.0.1:", "sni=\"" + TlsPeers.SNI + "\"",
                    "reason=" + who.reason);
            if (who != Refused.NO_CLIENT_CERTIFICATE) {
                assertThat(line).contains("subject=\"" + who.identity().leaf().getSubjectX500Principal().getName() + "\"");
            }
        } finally {
            refusals.detachAppender(lines);
        }
    }

    /** A sidecar speaking only {@code version}, presenting {@code identity}. */
    private static MtlsClient caller(IssuedIdentity identity, String version) throws Exception {
        return new MtlsClient(io.netty.handler.ssl.SslContextBuilder.forClient()
                .sslProvider(io.netty.handler.ssl.SslProvider.OPENSSL).protocols(version)
                .trustManager(pki.clusterA.rootCert()).endpointIdentificationAlgorithm(null)
                .keyManager(identity.key(), identity.chain().toArray(new java.security.cert.X509Certificate[0])).build());
    }

    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void shouldDenyCallersOutsideAllowedIdentitiesWithAccessDeniedAndLetTheOthersIn(String version) throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        String payments = "spiffe://cluster.local/ns/payments/sa/api";
        IssuedIdentity outside = MeshPki.issue(pki.clusterB, payments);
        ch.qos.logback.classic.Logger refusals = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("io.meshgate.gateway.refusals");
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> lines = new ch.qos.logback.core.read.ListAppender<>();
        lines.start();
        refusals.addAppender(lines);
        try (MeshBackend backend = mtlsEcho();
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", backend.endpoint(),
                     "tls: {allowedIdentities: ['spiffe://cluster.local/ns/default/*']}"));
             MtlsClient refused = caller(outside, version);
             MtlsClient allowed = caller(pki.callerB, version)) {
            try (MtlsClient.Session s = refused.connect(gw.address(), TlsPeers.SNI)) {
                s.send("let me in");
                assertThat(s.awaitClosed()).isTrue();
                assertThat(s.available()).isZero();
                assertThat(s.failure() + " / " + s.handshakeFailure()).as("the alert over " + version)
                        .contains("TLSV1_ALERT_ACCESS_DENIED");
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "denied") == 1);
            assertThat(gw.counter("meshgate.peer.refusals", "listener", LISTENER, "reason", "identity_not_allowed")).isEqualTo(1);
            assertThat(gw.counter("meshgate.peer.refusals", "listener", LISTENER, "reason", "trust_domain_not_allowed")).isZero();
            assertThat(gw.admin("/metrics").body())
                    .contains("meshgate_peer_refusals_total{listener=\"" + LISTENER + "\",reason=\"identity_not_allowed\"} 1.0");
            await().atMost(Duration.ofSeconds(5)).until(() -> !lines.list.isEmpty());
            assertThat(lines.list.get(0).getLevel()).isEqualTo(ch.qos.logback.classic.Level.INFO);
            assertThat(lines.list.get(0).getFormattedMessage()).contains("listener=" + LISTENER, "peer=/127.0.0.1:",
                    "sni=\"" + TlsPeers.SNI + "\"", "reason=identity_not_allowed",
                    "subject=\"" + outside.leaf().getSubjectX500Principal().getName() + "\"");

            assertThat(new String(echo(allowed, gw, "inside the namespace"), StandardCharsets.UTF_8)).isEqualTo("inside the namespace");
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "routed") == 1);
            assertThat(backend.accepted()).isEqualTo(1);
            await("no TLS 1.3 secret outlives its connection").atMost(Duration.ofSeconds(5))
                    .until(() -> gw.gateway().tls().orElseThrow().current().serverTrafficSecrets().watching() == 0);
        } finally {
            refusals.detachAppender(lines);
        }
    }

    @Test
    void shouldShowEveryRootWithItsSourceAndAsASpiffeBundle() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        try (MeshBackend backend = mtlsEcho();
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", backend.endpoint(), ""))) {
            var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
            var trust = mapper.readTree(gw.admin("/debug/trust").body());
            assertThat(trust.get("roots")).hasSize(2).allSatisfy(r -> assertThat(r.get("source").asText()).isEqualTo("file"));
            var spiffe = mapper.readTree(gw.admin("/debug/trust?format=spiffe").body());
            assertThat(spiffe.get("keys")).hasSize(2).allSatisfy(k -> assertThat(k.get("use").asText()).isEqualTo("x509-svid"));
            assertThat(gw.admin("/metrics").body()).contains("meshgate_trust_roots{source=\"file\"} 2.0");
        }
    }

    @Test
    void shouldCountGarbageAfterAValidHelloAsTlsError() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        try (MeshBackend backend = mtlsEcho();
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", backend.endpoint(), ""));
             Socket socket = new Socket(gw.address().getAddress(), gw.address().getPort())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(hello.clientHello(TlsPeers.SNI));
            socket.getOutputStream().write("GET / HTTP/1.1\r\nHost: not-tls\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            try {
                while (in.read() >= 0) {
                    // ServerHello and the alert, then EOF
                }
            } catch (SocketException reset) {
                // closed by the gateway, possibly with unread bytes
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "tls_error") == 1);
            assertThat(gw.handshakes(LISTENER, "error")).isEqualTo(1);
            assertThat(gw.outcomes(LISTENER, "denied")).isZero();
            assertThat(backend.accepted()).isZero();
        }
    }

    @Test
    void shouldAnswerAHelloWithoutServerNameWithMissingExtension() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        try (RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", "127.0.0.1:1", ""))) {
            // A real client that sends no SNI (curl/OpenSSL to an IP address): RFC 8446 section 9.2's
            // missing_extension alert, not a dropped connection.
            for (String max : java.util.List.of("1.2", "1.3")) {
                Process curl = new ProcessBuilder("curl", "-sS", "-k", "--max-time", "10", "--tls-max", max,
                        "https://127.0.0.1:" + gw.address().getPort() + "/").redirectErrorStream(true).start();
                String out = new String(curl.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                assertThat(curl.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
                assertThat(curl.exitValue()).as(out).isEqualTo(35);
                assertThat(out).contains("missing extension");
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "no_sni") == 2);
            assertThat(gw.handshakes(LISTENER, "ok") + gw.handshakes(LISTENER, "error")).isZero();
        }
    }

    @Test
    void shouldRefuseUnknownRoutingNamesBeforeAnyHandshakeLikePassthrough() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        try (MeshBackend backend = mtlsEcho();
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", backend.endpoint(), ""));
             MtlsClient callerB = caller(pki.callerB);
             MtlsClient.Session s = callerB.connect(gw.address(), OutboundSni.format("nothing.default.svc.cluster.local", 8080))) {
            // The caller's TLS stack hears why (RFC 6066 unrecognized_name), not a dropped connection.
            assertThat(s.handshakeFailure()).isNotNull().hasMessageContaining("UNRECOGNIZED_NAME");
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "no_route") == 1);
            assertThat(gw.handshakes(LISTENER, "ok") + gw.handshakes(LISTENER, "error")).isZero();
        }
    }
}
