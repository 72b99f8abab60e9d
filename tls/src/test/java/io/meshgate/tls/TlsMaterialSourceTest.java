package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.tls.PeerRefusedException.Reason;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.testing.TestPki;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.handler.ssl.SslContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hot rotation with the production timings (1 s hash poll, WatchService, 200 ms debounce) and
 * real handshakes: new roots and identities reach new handshakes within seconds, open
 * connections keep going, broken files keep the old material and are counted.
 */
@Timeout(60)
class TlsMaterialSourceTest {

    static final Instant NOW = Instant.now();
    static final Duration WITHIN = Duration.ofSeconds(5);
    static ClusterCa clusterA;
    static ClusterCa clusterB;
    static IssuedIdentity gateway;
    static SslContext sleepOfB;

    @TempDir
    Path dir;
    PrometheusMeterRegistry registry;
    TlsMaterialSource source;
    LoopbackTls server;

    @BeforeAll
    static void pki() throws Exception {
        clusterA = ClusterCa.create("cluster-a", "cluster.local", NOW);
        clusterB = ClusterCa.create("cluster-b", "cluster.local", NOW);
        gateway = gatewayIdentity("eastwest");
        IssuedIdentity sleep = clusterB.issue(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/sleep"), List.of(),
                Duration.ofDays(1), NOW);
        sleepOfB = LoopbackTls.client(sleep.key(), sleep.chain());
    }

    static IssuedIdentity gatewayIdentity(String sa) throws Exception {
        return clusterA.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/" + sa), List.of(), Duration.ofDays(1), NOW);
    }

    @BeforeEach
    void registry() {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (server != null) {
            server.close();
        }
        if (source != null) {
            source.close();
        }
    }

    private void start(TlsFiles files) throws Exception {
        source = new TlsMaterialSource(files, Set.of("cluster.local"), registry);
        source.start();
        server = new LoopbackTls(() -> source.current().serverContext());
    }

    private TlsFiles plainFiles(Object... bundleRoots) {
        return new TlsFiles(TestPki.write(dir.resolve("chain.pem"), gateway.chain().toArray()),
                TestPki.write(dir.resolve("key.pem"), gateway.key()),
                TestPki.write(dir.resolve("bundle.pem"), bundleRoots));
    }

    private double counter(String name, String... tags) {
        var search = registry.find(name);
        if (tags.length > 0) {
            search = search.tags(tags);
        }
        var c = search.counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void rewrittenBundleReachesNewHandshakesAndOpenConnectionsAreUntouched() throws Exception {
        TlsFiles files = plainFiles(clusterA.rootCert());
        start(files);
        assertThat(PeerRefusedException.reasonOf(server.handshake(sleepOfB).failure())).contains(Reason.UNTRUSTED_ROOT);

        TestPki.write(files.trustBundle(), clusterA.rootCert(), clusterB.rootCert());
        await().atMost(WITHIN).until(() -> source.current().bundle().roots().size() == 2);
        LoopbackTls.Connection open = server.connect(sleepOfB);
        assertThat(open.serverSide().ok()).as("%s", open.serverSide().failure()).isTrue();

        TestPki.write(files.trustBundle(), clusterA.rootCert());
        await().atMost(WITHIN).until(() -> source.current().bundle().roots().size() == 1);
        assertThat(PeerRefusedException.reasonOf(server.handshake(sleepOfB).failure())).contains(Reason.UNTRUSTED_ROOT);
        assertThat(open.echo("still here")).isEqualTo("still here");
        open.close();
        assertThat(counter("meshgate.tls.reload", "result", "ok")).isEqualTo(2);
        assertThat(counter("meshgate.tls.reload", "result", "failed")).isZero();
    }

    @Test
    void kubernetesDataSymlinkSwapRotatesBundleAndIdentityTogether() throws Exception {
        Path mount = Files.createDirectories(dir.resolve("secret"));
        Path first = writeVersion(mount, "..2024_01_01_00_00_00.1", gateway, clusterA.rootCert());
        Files.createSymbolicLink(mount.resolve("..data"), first.getFileName());
        for (String name : List.of("tls.crt", "tls.key", "ca.crt")) {
            Files.createSymbolicLink(mount.resolve(name), Path.of("..data", name));
        }
        start(new TlsFiles(mount.resolve("tls.crt"), mount.resolve("tls.key"), mount.resolve("ca.crt")));
        assertThat(server.handshake(sleepOfB).ok()).isFalse();

        IssuedIdentity renewed = gatewayIdentity("eastwest-renewed");
        Path second = writeVersion(mount, "..2024_01_01_00_05_00.2", renewed, clusterA.rootCert(), clusterB.rootCert());
        // What kubelet's AtomicWriter does: a temporary link renamed over ..data, then the old version removed.
        Files.createSymbolicLink(mount.resolve("..data_tmp"), second.getFileName());
        Files.move(mount.resolve("..data_tmp"), mount.resolve("..data"), StandardCopyOption.ATOMIC_MOVE);
        deleteTree(first);

        await().atMost(WITHIN).until(() -> source.current().servingId().path().endsWith("eastwest-renewed"));
        assertThat(source.current().bundle().roots()).hasSize(2);
        assertThat(source.current().leaf()).isEqualTo(renewed.leaf());
        LoopbackTls.ServerSide side = server.handshake(sleepOfB);
        assertThat(side.ok()).as("%s", side.failure()).isTrue();
        assertThat(counter("meshgate.tls.reload", "result", "ok")).isEqualTo(1);
    }

    @Test
    void brokenBundleKeepsTheOldMaterialAndIsCountedOnce() throws Exception {
        TlsFiles files = plainFiles(clusterA.rootCert(), clusterB.rootCert());
        start(files);
        TlsMaterial before = source.current();

        Files.writeString(files.trustBundle(), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        await().atMost(WITHIN).until(() -> counter("meshgate.tls.reload", "result", "failed") == 1);
        assertThat(source.current()).isSameAs(before);
        assertThat(source.lastFailure()).contains(files.trustBundle().toString());
        assertThat(counter("meshgate.tls.reload", "result", "failed")).isEqualTo(1);
        LoopbackTls.ServerSide side = server.handshake(sleepOfB);
        assertThat(side.ok()).as("%s", side.failure()).isTrue();
        Thread.sleep(2500);
        assertThat(counter("meshgate.tls.reload", "result", "failed")).as("the same broken content counts once").isEqualTo(1);

        TestPki.write(files.trustBundle(), clusterA.rootCert());
        await().atMost(WITHIN).until(() -> source.current() != before);
        assertThat(source.lastFailure()).isNull();
        assertThat(PeerRefusedException.reasonOf(server.handshake(sleepOfB).failure())).contains(Reason.UNTRUSTED_ROOT);
    }

    @Test
    void keyThatDoesNotMatchTheNewChainIsRefusedUntilItDoes() throws Exception {
        TlsFiles files = plainFiles(clusterA.rootCert(), clusterB.rootCert());
        start(files);
        IssuedIdentity renewed = gatewayIdentity("renewed");

        TestPki.write(files.certificateChain(), renewed.chain().toArray());
        await().atMost(WITHIN).until(() -> counter("meshgate.tls.reload", "result", "failed") == 1);
        assertThat(source.lastFailure()).contains(files.privateKey().toString()).contains("does not match");
        assertThat(server.handshake(sleepOfB).ok()).isTrue();

        TestPki.write(files.privateKey(), renewed.key());
        await().atMost(WITHIN).until(() -> source.current().servingId().path().endsWith("/renewed"));
        assertThat(server.handshake(sleepOfB).ok()).isTrue();
    }

    @Test
    void metricsAndDebugViewDescribeTheCurrentMaterial() throws Exception {
        TlsFiles files = plainFiles(clusterA.rootCert(), clusterB.rootCert());
        start(files);
        TrustView view = source.trustView();
        String a = Fingerprint.sha256(clusterA.rootCert());
        String b = Fingerprint.sha256(clusterB.rootCert());
        assertThat(view.roots()).extracting(TrustView.Root::sha256).containsExactly(a, b);
        assertThat(view.roots().get(0).subject()).isEqualTo("CN=cluster-a root CA,O=cluster-a");
        assertThat(view.roots().get(0).notAfter()).isEqualTo(clusterA.rootCert().getNotAfter().toInstant().toString());
        assertThat(view.serving().spiffeId()).isEqualTo("spiffe://cluster.local/ns/istio-system/sa/eastwest");
        assertThat(view.serving().notAfter()).isEqualTo(gateway.leaf().getNotAfter().toInstant().toString());
        assertThat(Instant.parse(view.bundleLoadedAt())).isBefore(Instant.now().plusSeconds(1));

        String scrape = registry.scrape();
        assertThat(scrape).contains("meshgate_tls_trust_roots 2.0")
                .contains("meshgate_tls_reload_total{result=\"ok\"} 0.0")
                .contains("meshgate_tls_reload_total{result=\"failed\"} 0.0")
                .doesNotContain("meshgate_tls_reload_failures_total")
                .containsPattern("meshgate_tls_certificate_expiry_seconds\\{certificate=\"serving\"} 8[0-9]{4}\\.0")
                .contains("meshgate_tls_certificate_expiry_seconds{certificate=\"" + a + "\"}");

        TestPki.write(files.trustBundle(), clusterA.rootCert());
        await().atMost(WITHIN).until(() -> source.current().bundle().roots().size() == 1);
        scrape = registry.scrape();
        assertThat(scrape).contains("meshgate_tls_trust_roots 1.0").contains("meshgate_tls_reload_total{result=\"ok\"} 1.0")
                .doesNotContain("certificate=\"" + b + "\"");
    }

    private static Path writeVersion(Path mount, String name, IssuedIdentity identity, Object... roots) {
        Path version = mount.resolve(name);
        TestPki.write(version.resolve("tls.crt"), identity.chain().toArray());
        TestPki.write(version.resolve("tls.key"), identity.key());
        TestPki.write(version.resolve("ca.crt"), roots);
        return version;
    }

    private static void deleteTree(Path root) throws Exception {
        try (var files = Files.walk(root)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
