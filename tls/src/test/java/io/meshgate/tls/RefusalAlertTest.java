package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.PeerRefusedException.Reason;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.testing.TestPki;
import io.netty.handler.ssl.SslContext;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The TLS alert a refused client receives, per refusal reason, over TLS 1.3 and 1.2: read from
 * the client's own BoringSSL error, which names the alert it got.
 */
@Timeout(60)
class RefusalAlertTest {

    static final Instant NOW = Instant.now();

    @TempDir
    static Path dir;

    static ClusterCa clusterA;
    static ClusterCa otherDomain;
    static TestPki.Ca loose;
    static LoopbackTls server;

    @BeforeAll
    static void start() throws Exception {
        clusterA = ClusterCa.create("cluster-a", "cluster.local", NOW);
        otherDomain = ClusterCa.create("cluster-c", "other.example", NOW);
        loose = TestPki.root("loose");
        IssuedIdentity gateway = clusterA.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/eastwest"),
                List.of(), Duration.ofDays(1), NOW);
        TlsFiles files = new TlsFiles(TestPki.write(dir.resolve("gw.pem"), gateway.chain().toArray()),
                TestPki.write(dir.resolve("gw.key"), gateway.key()),
                TestPki.write(dir.resolve("bundle.pem"), clusterA.rootCert(), otherDomain.rootCert(), loose.cert()));
        TlsMaterial material = TlsMaterial.load(files, Set.of("cluster.local"));
        server = new LoopbackTls(material::serverContext);
    }

    @AfterAll
    static void stop() throws InterruptedException {
        if (server != null) {
            server.close();
        }
    }

    /**
     * What the client's BoringSSL reports (its error names the alert), and the reason the server
     * recorded. The client writes only after it has read the refusal and closed (or 5 s passed): the
     * order a slow client sees, in which the write itself fails on a closed channel.
     */
    static String alert(SslContext client, Reason expected) throws Exception {
        String seen;
        try (LoopbackTls.Connection c = server.connect(client)) {
            c.awaitClosed();
            try {
                c.echo("hello");
                seen = "no alert: the connection was accepted";
            } catch (Exception e) {
                Throwable t = e;
                while (t.getCause() != null && t.getCause() != t) {
                    t = t.getCause();
                }
                seen = String.valueOf(t.getMessage());
            }
            LoopbackTls.ServerSide side = c.serverSide();
            assertThat(PeerRefusedException.reasonOf(side.failure())).as("%s", side.failure()).contains(expected);
        }
        return seen;
    }

    static SslContext client(List<java.security.cert.X509Certificate> chain, java.security.PrivateKey key, String version)
            throws Exception {
        return LoopbackTls.client(key, chain, version);
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void untrustedRootAndMissingIntermediateGetUnknownCa(String version) throws Exception {
        TestPki.Ca rogue = TestPki.root("rogue");
        TestPki.Issued r = rogue.issue("spiffe://cluster.local/ns/default/sa/sleep");
        assertThat(alert(client(List.of(r.leaf(), rogue.cert()), r.key(), version), Reason.UNTRUSTED_ROOT)).contains("ALERT_UNKNOWN_CA");
        IssuedIdentity a = clusterA.issue(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/sleep"), List.of(), Duration.ofDays(1), NOW);
        assertThat(alert(client(List.of(a.leaf()), a.key(), version), Reason.MISSING_INTERMEDIATE)).contains("ALERT_UNKNOWN_CA");
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void expiredGetsCertificateExpired(String version) throws Exception {
        TestPki.Issued old = loose.issue(NOW.minus(Duration.ofDays(3)), NOW.minus(Duration.ofDays(1)), "spiffe://cluster.local/ns/a/sa/old");
        assertThat(alert(client(old.chain(), old.key(), version), Reason.EXPIRED)).contains("ALERT_CERTIFICATE_EXPIRED");
        TestPki.Issued early = loose.issue(NOW.plus(Duration.ofDays(1)), NOW.plus(Duration.ofDays(3)), "spiffe://cluster.local/ns/a/sa/new");
        assertThat(alert(client(early.chain(), early.key(), version), Reason.NOT_YET_VALID)).contains("ALERT_CERTIFICATE_EXPIRED");
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void badSpiffeIdGetsBadCertificate(String version) throws Exception {
        TestPki.Issued none = loose.issue(NOW.minus(Duration.ofMinutes(5)), NOW.plus(Duration.ofDays(1)), List.of(), "x.default.svc");
        assertThat(alert(client(none.chain(), none.key(), version), Reason.NO_SPIFFE_ID)).contains("ALERT_BAD_CERTIFICATE");
    }

    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void noCertificate(String version) throws Exception {
        String alert = alert(LoopbackTls.client((TestPki.Issued) null, version), Reason.NO_CLIENT_CERTIFICATE);
        assertThat(alert).contains(version.equals("TLSv1.3") ? "ALERT_CERTIFICATE_REQUIRED" : "ALERT_HANDSHAKE_FAILURE");
    }

    /** BoringSSL's own alert; the terminate listener turns it into access_denied on the wire (gateway's AccessDeniedAlert). */
    @ParameterizedTest
    @ValueSource(strings = {"TLSv1.3", "TLSv1.2"})
    void trustDomainNotAllowedIsNotAnInternalError(String version) throws Exception {
        IssuedIdentity c = otherDomain.issue(SpiffeId.parse("spiffe://other.example/ns/default/sa/sleep"), List.of(), Duration.ofDays(1), NOW);
        String alert = alert(client(c.chain(), c.key(), version), Reason.TRUST_DOMAIN_NOT_ALLOWED);
        assertThat(alert).contains("ALERT_HANDSHAKE_FAILURE").doesNotContain("INTERNAL_ERROR");
    }
}
