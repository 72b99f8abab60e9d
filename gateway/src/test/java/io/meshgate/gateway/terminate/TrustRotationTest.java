package io.meshgate.gateway.terminate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.MeshBackend;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.MtlsClient;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TlsPeers;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hot rotation of the trust bundle under a running terminate listener: roots join and leave
 * without a restart while callers keep connecting, and a broken bundle changes nothing.
 */
class TrustRotationTest {

    static final String LISTENER = "eastwest-mtls";
    static MeshPki pki;
    static ClusterCa clusterC;
    static IssuedIdentity callerA;
    static IssuedIdentity callerC;

    @TempDir
    Path dir;

    @BeforeAll
    static void certificates() throws Exception {
        pki = new MeshPki();
        clusterC = ClusterCa.create("cluster-c", "cluster.local", Instant.now());
        callerA = MeshPki.issue(pki.clusterA, "spiffe://cluster.local/ns/default/sa/local-caller");
        callerC = MeshPki.issue(clusterC, "spiffe://cluster.local/ns/default/sa/newcomer");
    }

    private static MtlsClient caller(IssuedIdentity identity) {
        return new MtlsClient(MeshPki.client(identity, pki.clusterA.rootCert()));
    }

    /** One fresh connection (full handshake) and one request; true if answered 200. */
    private static boolean call(MtlsClient client, RunningGateway gw) {
        try (MtlsClient.Session s = client.connect(gw.address(), TlsPeers.SNI)) {
            return s.send(MtlsClient.get("/")).response().status() == 200;
        } catch (Exception refused) {
            return false;
        }
    }

    @Test
    void shouldAddAndRemoveRootsUnderLoadWithoutFailingConnectionsThatShouldSucceed() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        try (MeshBackend backend = new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(pki.backend, List.of(pki.clusterA.rootCert())));
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "http", "mtls", backend.endpoint(), ""));
             MtlsClient a = caller(callerA); MtlsClient b = caller(pki.callerB); MtlsClient c = caller(callerC)) {
            assertThat(call(b, gw)).isTrue();
            assertThat(call(c, gw)).as("C is not trusted yet").isFalse();

            // The load: callers whose roots stay in the bundle, back to back, each a full handshake.
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger ok = new AtomicInteger();
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            CompletableFuture<Void> load = CompletableFuture.runAsync(() -> {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                for (int i = 0; !stop.get() && i < 5_000 && System.nanoTime() < deadline; i++) {
                    if (call(a, gw)) {
                        ok.incrementAndGet();
                    } else {
                        failures.add("call " + i);
                    }
                }
            });
            // An open connection of B, made before B leaves, must keep working after.
            try (MtlsClient.Session openB = b.connect(gw.address(), TlsPeers.SNI)) {
                assertThat(openB.send(MtlsClient.get("/before")).response().status()).isEqualTo(200);

                await().atMost(Duration.ofSeconds(10)).until(() -> ok.get() >= 5);
                MeshPki.writeBundle(dir, pki.clusterA, pki.clusterB, clusterC);
                await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).until(() -> call(c, gw));

                int beforeRemoval = ok.get();
                MeshPki.writeBundle(dir, pki.clusterA, clusterC);
                await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).until(() -> !call(b, gw));
                assertThat(gw.outcomes(LISTENER, "denied")).isGreaterThanOrEqualTo(2); // C before it joined, B after it left
                assertThat(call(c, gw)).as("C still trusted").isTrue();
                await().atMost(Duration.ofSeconds(10)).until(() -> ok.get() >= beforeRemoval + 5);

                assertThat(openB.send(MtlsClient.get("/after")).response().status())
                        .as("connections open before the rotation are untouched").isEqualTo(200);
            }
            stop.set(true);
            load.get(70, TimeUnit.SECONDS);
            assertThat(failures).as("failed calls of a caller whose root never left").isEmpty();
            assertThat(ok.get()).isGreaterThanOrEqualTo(10);
            assertThat(gw.counter("meshgate.tls.reload", "result", "ok")).isEqualTo(2);
        }
    }

    @Test
    void shouldKeepTheOldBundleWhenTheNewFileIsBroken() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        try (MeshBackend backend = new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(pki.backend, List.of(pki.clusterA.rootCert())));
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "http", "mtls", backend.endpoint(), ""));
             MtlsClient b = caller(pki.callerB)) {
            assertThat(call(b, gw)).isTrue();
            MeshPki.writeAtomically(dir.resolve("bundle.pem"), "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
            await().atMost(Duration.ofSeconds(10)).until(() -> gw.counter("meshgate.tls.reload", "result", "failed") >= 1);
            assertThat(gw.gateway().tls().orElseThrow().current().bundle().roots()).hasSize(2);
            assertThat(call(b, gw)).as("new handshakes still verify against the old bundle").isTrue();
            assertThat(gw.outcomes(LISTENER, "denied")).isZero();
        }
    }
}
