package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.pki.KeyType;
import io.meshgate.tls.testing.TestPki;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Start-up checks of the gateway's own material: chain to a bundle root, key matches, bundle entries are CAs. */
class ServingChainCheckTest {

    static final Instant NOW = Instant.now();
    static ClusterCa a;
    static ClusterCa b;
    static IssuedIdentity gateway;

    @TempDir
    Path dir;

    @BeforeAll
    static void pki() throws Exception {
        a = ClusterCa.create("cluster-a", "cluster.local", NOW);
        b = ClusterCa.create("cluster-b", "cluster.local", NOW);
        gateway = a.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/eastwest"), List.of(), Duration.ofDays(1), NOW);
    }

    private TlsFiles files(Object[] chain, Object key, Object... roots) {
        return new TlsFiles(TestPki.write(dir.resolve("chain.pem"), chain), TestPki.write(dir.resolve("key.pem"), key),
                TestPki.write(dir.resolve("bundle.pem"), roots));
    }

    /** Loads as the gateway does (start and every reload). */
    private static TlsMaterialSource serving(TlsFiles f) throws TlsMaterialException {
        return new TlsMaterialSource(f, Set.of(), new io.micrometer.core.instrument.simple.SimpleMeterRegistry());
    }

    @Test
    void leafOnlyChainIsRefusedNamingTheFile() {
        TlsFiles f = files(new Object[] {gateway.leaf()}, gateway.key(), a.rootCert());
        assertThatThrownBy(() -> serving(f))
                .isInstanceOf(TlsMaterialException.class)
                .hasMessageContaining(f.certificateChain().toString())
                .hasMessageContaining("missing_intermediate")
                .hasMessageContaining("intermediate CA");
    }

    @Test
    void chainToARootOutsideTheBundleIsRefused() {
        TlsFiles f = files(gateway.chain().toArray(), gateway.key(), b.rootCert());
        assertThatThrownBy(() -> serving(f))
                .isInstanceOf(TlsMaterialException.class)
                .hasMessageContaining(f.certificateChain().toString())
                .hasMessageContaining("untrusted_root");
    }

    @Test
    void keyOfAnotherCertificateIsRefused() {
        TlsFiles f = files(gateway.chain().toArray(), KeyType.EC_P256.generate().getPrivate(), a.rootCert());
        assertThatThrownBy(() -> serving(f))
                .isInstanceOf(TlsMaterialException.class)
                .hasMessageContaining(f.privateKey().toString())
                .hasMessageContaining("does not match");
    }

    @Test
    void bundleEntryThatIsNotACaIsRefusedByName() {
        TlsFiles f = files(gateway.chain().toArray(), gateway.key(), a.rootCert(), gateway.leaf());
        assertThatThrownBy(() -> serving(f))
                .hasMessageContaining(f.trustBundle().toString())
                .hasMessageContaining("certificate #2")
                .hasMessageContaining("not a CA certificate");
    }

    @Test
    void rsaIdentityUnderAnRsaRootServesInAMixedBundle() throws Exception {
        ClusterCa rsa = ClusterCa.create("cluster-r", "cluster.local", NOW, KeyType.RSA_2048);
        IssuedIdentity id = rsa.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/eastwest"), List.of(),
                Duration.ofDays(1), NOW, KeyType.RSA_2048);
        TlsFiles f = files(id.chain().toArray(), id.key(), a.rootCert(), rsa.rootCert());
        TlsMaterial material = serving(f).current();
        assertThat(material.key().getAlgorithm()).isEqualTo("RSA");
        try (LoopbackTls server = new LoopbackTls(material::serverContext)) {
            IssuedIdentity caller = a.issue(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/sleep"), List.of(), Duration.ofDays(1), NOW);
            for (String version : TlsMaterial.PROTOCOLS) {
                LoopbackTls.ServerSide side = server.handshake(LoopbackTls.client(caller.key(), caller.chain(), version));
                assertThat(side.ok()).as("%s %s", version, side.failure()).isTrue();
            }
        }
    }
}
