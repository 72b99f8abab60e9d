package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshgate.tls.testing.TestPki;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading the federated bundle: what is accepted, and the errors an operator sees otherwise. */
class TrustBundleTest {

    @TempDir
    Path dir;

    @Test
    void loadsEveryRootOnceWithSubjectFingerprintAndExpiry() throws Exception {
        TestPki.Ca a = TestPki.root("cluster-a");
        TestPki.Ca b = TestPki.root("cluster-b");
        Path file = TestPki.write(dir.resolve("bundle.pem"), a.cert(), b.cert(), a.cert());

        TrustBundle bundle = TrustBundle.load(file);

        assertThat(bundle.roots()).hasSize(2);
        TrustRoot first = bundle.roots().get(0);
        assertThat(first.subject()).isEqualTo("CN=cluster-a root,O=cluster-a");
        assertThat(first.sha256()).matches("[0-9a-f]{64}").isEqualTo(Fingerprint.sha256(a.cert().getEncoded()));
        assertThat(first.notAfter()).isEqualTo(a.cert().getNotAfter().toInstant());
        assertThat(bundle.anchors()).hasSize(2);
        assertThat(bundle.loadedAt()).isBefore(Instant.now().plusSeconds(1));
        assertThat(TrustBundle.load(Files.writeString(dir.resolve("again.pem"), bundle.toPem())).roots())
                .extracting(TrustRoot::sha256).containsExactly(first.sha256(), bundle.roots().get(1).sha256());
    }

    @Test
    void emptyFileIsRefusedNamingTheFile() throws Exception {
        Path file = Files.writeString(dir.resolve("empty.pem"), "");
        assertThatThrownBy(() -> TrustBundle.load(file)).isInstanceOf(TrustBundleException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("no PEM certificate");
    }

    @Test
    void garbageIsRefusedNamingTheFile() throws Exception {
        Path file = Files.writeString(dir.resolve("garbage.pem"),
                "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> TrustBundle.load(file)).isInstanceOf(TrustBundleException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("not a valid PEM certificate");
    }

    @Test
    void missingFileIsRefusedNamingTheFile() {
        Path file = dir.resolve("absent.pem");
        assertThatThrownBy(() -> TrustBundle.load(file)).isInstanceOf(TrustBundleException.class)
                .hasMessage(file + ": no such file");
    }

    @Test
    void leafCertificateIsNotARoot() {
        TestPki.Ca a = TestPki.root("cluster-a");
        Path file = TestPki.write(dir.resolve("leaf.pem"), a.cert(), a.issue("spiffe://cluster.local/ns/a/sa/b").leaf());
        assertThatThrownBy(() -> TrustBundle.load(file)).isInstanceOf(TrustBundleException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("certificate #2")
                .hasMessageContaining("not a CA certificate");
    }

    @Test
    void intermediateIsNotARootAndIsRefusedByName() throws Exception {
        io.meshgate.tls.pki.ClusterCa a = io.meshgate.tls.pki.ClusterCa.create("cluster-a", "cluster.local", Instant.now());
        Path file = TestPki.write(dir.resolve("intermediate.pem"), a.rootCert(), a.caCert());
        assertThatThrownBy(() -> TrustBundle.load(file)).isInstanceOf(TrustBundleException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("certificate #2")
                .hasMessageContaining(a.caCert().getSubjectX500Principal().getName()).hasMessageContaining("is not a root");
    }

    @Test
    void expiredRootIsRefused() {
        TestPki.Ca old = TestPki.root("old", Instant.now().minus(Duration.ofDays(30)), Instant.now().minus(Duration.ofDays(1)));
        Path file = TestPki.write(dir.resolve("old.pem"), old.cert());
        assertThatThrownBy(() -> TrustBundle.load(file)).isInstanceOf(TrustBundleException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("expired at");
    }

    @Test
    void privateKeyInTheBundleIsRefused() {
        TestPki.Ca a = TestPki.root("cluster-a");
        Path file = TestPki.write(dir.resolve("mixed.pem"), a.cert(), a.key());
        assertThatThrownBy(() -> TrustBundle.load(file)).isInstanceOf(TrustBundleException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("PRIVATE KEY");
    }
}
