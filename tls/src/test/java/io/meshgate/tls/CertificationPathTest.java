package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshgate.tls.PeerRefusedException.Reason;
import io.meshgate.tls.pki.CertificateIssuer;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.pki.KeyType;
import java.security.KeyPair;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.x500.X500Name;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Path building from the certificates a client presents: an unordered pool to a root of the
 * bundle, every ordering, duplicate, extra and missing certificate, and a bundle mixing RSA and EC
 * roots. Runs {@link PeerVerifier} directly (the handshake tests run the same code under BoringSSL).
 */
class CertificationPathTest {

    static final Instant NOW = Instant.now();
    static final String ID = "spiffe://cluster.local/ns/default/sa/sleep";

    static ClusterCa ecA;
    static ClusterCa ecB;
    static ClusterCa rsaC;
    static IssuedIdentity leafA;
    static X509Certificate interA;
    static X509Certificate rootA;

    @BeforeAll
    static void pki() throws Exception {
        ecA = ClusterCa.create("cluster-a", "cluster.local", NOW);
        ecB = ClusterCa.create("cluster-b", "cluster.local", NOW);
        rsaC = ClusterCa.create("cluster-c", "cluster.local", NOW, KeyType.RSA_2048);
        leafA = ecA.issue(SpiffeId.parse(ID), List.of(), Duration.ofDays(1), NOW);
        interA = ecA.caCert();
        rootA = ecA.rootCert();
    }

    static PeerVerifier verifier(X509Certificate... roots) throws Exception {
        TrustBundle bundle = TrustBundle.of(null, List.of(roots), NOW);
        return new PeerVerifier(() -> bundle, Set.of("cluster.local"), PeerRole.CLIENT);
    }

    static SpiffeId verify(PeerVerifier v, X509Certificate... chain) throws PeerRefusedException {
        return v.verify(chain);
    }

    static Reason refusal(PeerVerifier v, X509Certificate... chain) {
        try {
            v.verify(chain);
        } catch (PeerRefusedException e) {
            return e.reason();
        }
        throw new AssertionError("chain was accepted");
    }

    @Test
    void leafThenIntermediate() throws Exception {
        assertThat(verify(verifier(rootA), leafA.leaf(), interA)).hasToString(ID);
    }

    @Test
    void rootAppended() throws Exception {
        assertThat(verify(verifier(rootA), leafA.leaf(), interA, rootA)).hasToString(ID);
    }

    @Test
    void rootBeforeIntermediate() throws Exception {
        assertThat(verify(verifier(rootA), leafA.leaf(), rootA, interA)).hasToString(ID);
    }

    @Test
    void duplicateLeafAsOpensslCertChainSendsIt() throws Exception {
        assertThat(verify(verifier(rootA), leafA.leaf(), leafA.leaf(), interA)).hasToString(ID);
        assertThat(verify(verifier(rootA), leafA.leaf(), interA, leafA.leaf(), interA)).hasToString(ID);
    }

    @Test
    void duplicateIntermediate() throws Exception {
        assertThat(verify(verifier(rootA), leafA.leaf(), interA, interA, interA)).hasToString(ID);
    }

    @Test
    void extraUnrelatedCertificatesAnywhere() throws Exception {
        IssuedIdentity stranger = ecB.issue(SpiffeId.parse("spiffe://cluster.local/ns/x/sa/y"), List.of(), Duration.ofDays(1), NOW);
        assertThat(verify(verifier(rootA), leafA.leaf(), ecB.caCert(), stranger.leaf(), interA, ecB.rootCert())).hasToString(ID);
        assertThat(verify(verifier(rootA), leafA.leaf(), interA, ecB.caCert())).hasToString(ID);
    }

    @Test
    void expiredUnrelatedCertificateInThePoolDoesNotMatter() throws Exception {
        TestPkiRoots old = TestPkiRoots.expired();
        assertThat(verify(verifier(rootA), leafA.leaf(), old.cert, interA)).hasToString(ID);
    }

    @Test
    void sameNamedIntermediateWithAnotherKeyIsSkipped() throws Exception {
        KeyPair other = KeyType.EC_P256.generate();
        X509Certificate impostor = CertificateIssuer.intermediate(X500Name.getInstance(interA.getSubjectX500Principal().getEncoded()),
                other.getPublic(), rootA, ecA.rootKey(), NOW.minus(Duration.ofMinutes(5)), NOW.plus(Duration.ofDays(30)), List.of());
        assertThat(verify(verifier(rootA), leafA.leaf(), impostor, interA)).hasToString(ID);
        assertThat(refusal(verifier(rootA), leafA.leaf(), impostor)).isEqualTo(Reason.MISSING_INTERMEDIATE);
    }

    @Test
    void leafAloneIsAMissingIntermediate() {
        assertThatThrownBy(() -> verify(verifier(rootA), leafA.leaf()))
                .isInstanceOfSatisfying(PeerRefusedException.class, e -> {
                    assertThat(e.reason()).isEqualTo(Reason.MISSING_INTERMEDIATE);
                    assertThat(e.getMessage()).contains("missing intermediate", "cluster-a intermediate CA", "only the leaf");
                });
    }

    @Test
    void leafWithOnlyUnrelatedCertificatesIsAMissingIntermediate() throws Exception {
        assertThat(refusal(verifier(rootA), leafA.leaf(), ecB.caCert(), rootA)).isEqualTo(Reason.MISSING_INTERMEDIATE);
    }

    @Test
    void chainOfAnotherRootIsUntrusted() throws Exception {
        IssuedIdentity b = ecB.issue(SpiffeId.parse(ID), List.of(), Duration.ofDays(1), NOW);
        assertThatThrownBy(() -> verify(verifier(rootA), b.leaf(), b.chain().get(1)))
                .isInstanceOfSatisfying(PeerRefusedException.class, e -> {
                    assertThat(e.reason()).isEqualTo(Reason.UNTRUSTED_ROOT);
                    assertThat(e.getMessage()).contains("cluster-b root CA");
                });
        assertThatThrownBy(() -> verify(verifier(rootA), b.leaf(), ecB.rootCert(), b.chain().get(1)))
                .isInstanceOfSatisfying(PeerRefusedException.class, e -> {
                    assertThat(e.reason()).isEqualTo(Reason.UNTRUSTED_ROOT);
                    assertThat(e.getMessage()).contains("ends at root", Fingerprint.sha256(ecB.rootCert()));
                });
    }

    @Test
    void rootOfTheSameNameButAnotherKeyIsUntrusted() throws Exception {
        KeyPair other = KeyType.EC_P256.generate();
        X509Certificate rotated = CertificateIssuer.root(X500Name.getInstance(rootA.getSubjectX500Principal().getEncoded()), other,
                NOW.minus(Duration.ofMinutes(5)), NOW.plus(Duration.ofDays(30)), List.of());
        assertThatThrownBy(() -> verify(verifier(rotated), leafA.leaf(), interA))
                .isInstanceOfSatisfying(PeerRefusedException.class, e -> {
                    assertThat(e.reason()).isEqualTo(Reason.UNTRUSTED_ROOT);
                    assertThat(e.getMessage()).contains("did not sign it");
                });
        assertThat(verify(verifier(rotated, rootA), leafA.leaf(), interA)).hasToString(ID);
    }

    @Test
    void expiredIntermediateOnThePathIsExpired() throws Exception {
        X509Certificate expiredInter = CertificateIssuer.intermediate(X500Name.getInstance(interA.getSubjectX500Principal().getEncoded()),
                interA.getPublicKey(), rootA, ecA.rootKey(), NOW.minus(Duration.ofDays(3)), NOW.minus(Duration.ofDays(1)), List.of());
        assertThat(refusal(verifier(rootA), leafA.leaf(), expiredInter)).isEqualTo(Reason.EXPIRED);
        // Both sent (a renewal with the same key): the valid one is used.
        assertThat(verify(verifier(rootA), leafA.leaf(), expiredInter, interA)).hasToString(ID);
    }

    @Test
    void mixedRsaAndEcBundle() throws Exception {
        PeerVerifier mixed = verifier(rootA, rsaC.rootCert(), ecB.rootCert());
        IssuedIdentity rsaLeaf = rsaC.issue(SpiffeId.parse(ID), List.of(), Duration.ofDays(1), NOW, KeyType.RSA_2048);
        IssuedIdentity ecLeafUnderRsa = rsaC.issue(SpiffeId.parse(ID), List.of(), Duration.ofDays(1), NOW, KeyType.EC_P256);
        assertThat(rsaC.rootCert().getPublicKey().getAlgorithm()).isEqualTo("RSA");
        assertThat(verify(mixed, rsaLeaf.leaf(), rsaC.caCert())).hasToString(ID);
        assertThat(verify(mixed, ecLeafUnderRsa.leaf(), rsaC.rootCert(), rsaC.caCert())).hasToString(ID);
        assertThat(verify(mixed, leafA.leaf(), rsaC.caCert(), interA)).hasToString(ID);
        assertThat(refusal(verifier(rootA), rsaLeaf.leaf(), rsaC.caCert())).isEqualTo(Reason.UNTRUSTED_ROOT);
    }

    @Test
    void caLeafIsAnInvalidChain() throws Exception {
        assertThat(refusal(verifier(rootA), interA, rootA)).isEqualTo(Reason.INVALID_CHAIN);
    }

    /** An expired self-signed CA, unrelated to everything else. */
    record TestPkiRoots(X509Certificate cert) {
        static TestPkiRoots expired() {
            return new TestPkiRoots(io.meshgate.tls.testing.TestPki.root("old", NOW.minus(Duration.ofDays(10)),
                    NOW.minus(Duration.ofDays(1))).cert());
        }
    }
}
