package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.PeerRefusedException.Reason;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.testing.TestPki;
import io.netty.handler.ssl.SslContext;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real BoringSSL handshakes on loopback against the terminate context: two clusters' CAs, a rogue
 * CA, and every way a client certificate is refused, each with the reason the gateway will see.
 */
@Timeout(60)
class PeerVerificationTest {

    static final String TRUST_DOMAIN = "cluster.local";
    static final Instant NOW = Instant.now();

    @TempDir
    static Path dir;

    static ClusterCa clusterA;
    static ClusterCa clusterB;
    static ClusterCa otherDomain;
    static TestPki.Ca rogue;
    static TestPki.Ca loose;
    static TlsFiles aOnly;
    static TlsFiles federated;
    static LoopbackTls federatedServer;
    static TlsMaterial federatedMaterial;

    @BeforeAll
    static void pki() throws Exception {
        clusterA = ClusterCa.create("cluster-a", TRUST_DOMAIN, NOW);
        clusterB = ClusterCa.create("cluster-b", TRUST_DOMAIN, NOW);
        otherDomain = ClusterCa.create("cluster-c", "other.example", NOW);
        rogue = TestPki.root("rogue");
        loose = TestPki.root("loose");
        IssuedIdentity gateway = clusterA.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/eastwest"),
                List.of(), Duration.ofDays(1), NOW);
        Path chain = TestPki.write(dir.resolve("gw-chain.pem"), gateway.chain().toArray());
        Path key = TestPki.write(dir.resolve("gw.key"), gateway.key());
        Path bundleA = TestPki.write(dir.resolve("bundle-a.pem"), clusterA.rootCert());
        Path bundleAll = TestPki.write(dir.resolve("bundle-all.pem"), clusterA.rootCert(), clusterB.rootCert(),
                otherDomain.rootCert(), loose.cert());
        aOnly = new TlsFiles(chain, key, bundleA);
        federated = new TlsFiles(chain, key, bundleAll);
        federatedMaterial = TlsMaterial.load(federated, Set.of(TRUST_DOMAIN));
        federatedServer = new LoopbackTls(federatedMaterial::serverContext);
    }

    @AfterAll
    static void stop() throws InterruptedException {
        if (federatedServer != null) {
            federatedServer.close();
        }
    }

    static SslContext clientOf(ClusterCa ca, String spiffe) throws Exception {
        IssuedIdentity id = ca.issue(SpiffeId.parse(spiffe), List.of(), Duration.ofDays(1), NOW);
        return LoopbackTls.client(id.key(), id.chain());
    }

    static Reason refusal(LoopbackTls.ServerSide side) {
        assertThat(side.ok()).as("handshake should have been refused").isFalse();
        Optional<Reason> reason = PeerRefusedException.reasonOf(side.failure());
        assertThat(reason).as("refusal reason in %s", side.failure()).isPresent();
        return reason.get();
    }

    @Test
    void clientOfClusterBIsAcceptedOnceItsRootIsInTheBundle() throws Exception {
        SslContext sleep = clientOf(clusterB, "spiffe://cluster.local/ns/default/sa/sleep");
        TlsMaterial onlyA = TlsMaterial.load(aOnly, Set.of(TRUST_DOMAIN));
        try (LoopbackTls server = new LoopbackTls(onlyA::serverContext)) {
            assertThat(refusal(server.handshake(sleep))).isEqualTo(Reason.UNTRUSTED_ROOT);
        }
        try (LoopbackTls.Connection c = federatedServer.connect(sleep)) {
            LoopbackTls.ServerSide side = c.serverSide();
            assertThat(side.ok()).as("%s", side.failure()).isTrue();
            assertThat(side.peer().spiffeId()).hasToString("spiffe://cluster.local/ns/default/sa/sleep");
            assertThat(side.peer().sha256()).isEqualTo(Fingerprint.sha256(side.peer().leaf()));
            assertThat(c.echo("hello")).isEqualTo("hello");
        }
    }

    @Test
    void clientWithIntermediateSentByItselfVerifiesOverTls12Too() throws Exception {
        IssuedIdentity id = clusterB.issue(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/legacy"), List.of(),
                Duration.ofDays(1), NOW);
        LoopbackTls.ServerSide side = federatedServer.handshake(LoopbackTls.client(id.key(), id.chain(), "TLSv1.2"));
        assertThat(side.ok()).as("%s", side.failure()).isTrue();
        assertThat(side.peer().spiffeId().path()).isEqualTo("/ns/default/sa/legacy");
    }

    @Test
    void clientWithoutItsIntermediateIsRefusedAsMissingIntermediate() throws Exception {
        IssuedIdentity id = clusterB.issue(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/sleep"), List.of(),
                Duration.ofDays(1), NOW);
        LoopbackTls.ServerSide side = federatedServer.handshake(LoopbackTls.client(id.key(), List.of(id.leaf())));
        assertThat(refusal(side)).isEqualTo(Reason.MISSING_INTERMEDIATE);
        assertThat(PeerRefusedException.find(side.failure()).orElseThrow().getMessage()).contains("missing intermediate");
    }

    @Test
    void rogueRootIsRefused() throws Exception {
        TestPki.Issued leaf = rogue.issue("spiffe://cluster.local/ns/default/sa/sleep");
        LoopbackTls.ServerSide side = federatedServer.handshake(
                LoopbackTls.client(leaf.key(), List.of(leaf.leaf(), rogue.cert())));
        assertThat(refusal(side)).isEqualTo(Reason.UNTRUSTED_ROOT);
        assertThat(PeerRefusedException.find(side.failure()).orElseThrow().getMessage()).contains("root of the trust bundle");
    }

    @Test
    void expiredLeafIsRefused() throws Exception {
        TestPki.Issued expired = loose.issue(NOW.minus(Duration.ofDays(3)), NOW.minus(Duration.ofDays(1)),
                "spiffe://cluster.local/ns/default/sa/old");
        assertThat(refusal(federatedServer.handshake(LoopbackTls.client(expired)))).isEqualTo(Reason.EXPIRED);
    }

    @Test
    void clientWithoutCertificateIsRefused() throws Exception {
        LoopbackTls.ServerSide side = federatedServer.handshake(LoopbackTls.client((TestPki.Issued) null));
        assertThat(refusal(side)).isEqualTo(Reason.NO_CLIENT_CERTIFICATE);
    }

    @Test
    void clientWithoutCertificateIsRefusedOverTls12() throws Exception {
        LoopbackTls.ServerSide side = federatedServer.handshake(LoopbackTls.client((TestPki.Issued) null, "TLSv1.2"));
        assertThat(refusal(side)).isEqualTo(Reason.NO_CLIENT_CERTIFICATE);
    }

    @Test
    void trustDomainOutsideTheAllowedSetIsRefused() throws Exception {
        SslContext foreign = clientOf(otherDomain, "spiffe://other.example/ns/default/sa/sleep");
        assertThat(refusal(federatedServer.handshake(foreign))).isEqualTo(Reason.TRUST_DOMAIN_NOT_ALLOWED);
    }

    @Test
    void anyTrustDomainInTheBundleIsAcceptedWhenTheAllowedSetIsEmpty() throws Exception {
        TlsMaterial open = TlsMaterial.load(federated, Set.of());
        try (LoopbackTls server = new LoopbackTls(open::serverContext)) {
            LoopbackTls.ServerSide side = server.handshake(clientOf(otherDomain, "spiffe://other.example/ns/default/sa/sleep"));
            assertThat(side.ok()).as("%s", side.failure()).isTrue();
            assertThat(side.peer().spiffeId().trustDomain()).isEqualTo("other.example");
        }
    }

    @Test
    void leafWithoutSpiffeIdIsRefused() throws Exception {
        TestPki.Issued noUri = loose.issue(NOW.minus(Duration.ofMinutes(5)), NOW.plus(Duration.ofDays(1)), List.of(),
                "sleep.default.svc");
        assertThat(refusal(federatedServer.handshake(LoopbackTls.client(noUri)))).isEqualTo(Reason.NO_SPIFFE_ID);
    }

    @Test
    void leafWithTwoSpiffeIdsIsRefused() throws Exception {
        TestPki.Issued two = loose.issue(NOW.minus(Duration.ofMinutes(5)), NOW.plus(Duration.ofDays(1)),
                List.of("spiffe://cluster.local/ns/a/sa/x", "spiffe://cluster.local/ns/b/sa/y"));
        assertThat(refusal(federatedServer.handshake(LoopbackTls.client(two)))).isEqualTo(Reason.MULTIPLE_SPIFFE_IDS);
    }

    @Test
    void nonTlsBytesAreAHandshakeErrorNotADenial() throws Exception {
        try (Socket s = new Socket("127.0.0.1", federatedServer.port())) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
            out.flush();
            LoopbackTls.ServerSide side = federatedServer.nextServerSide();
            assertThat(side.ok()).isFalse();
            assertThat(PeerRefusedException.reasonOf(side.failure())).isEmpty();
        }
    }
}
