package io.meshgate.gateway.terminate;

import static io.meshgate.gateway.testing.RotationCallers.call;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.MeshBackend;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.MtlsClient;
import io.meshgate.gateway.testing.RotationCallers;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.gateway.testing.TlsPeers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hot rotation of the trust bundle under a running terminate listener: roots join and leave
 * without a restart while callers keep connecting, and a broken bundle changes nothing.
 */
class TrustRotationTest {

    static final String LISTENER = "eastwest-mtls";
    static RotationCallers callers;

    @TempDir
    Path dir;

    @BeforeAll
    static void certificates() throws Exception {
        callers = new RotationCallers();
    }

    @Test
    void shouldAddAndRemoveRootsUnderLoadWithoutFailingConnectionsThatShouldSucceed() throws Exception {
        callers.pki.writeGatewayFiles(dir, callers.pki.clusterA, callers.pki.clusterB);
        try (MeshBackend backend = new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(callers.pki.backend, List.of(callers.pki.clusterA.rootCert())));
             RunningGateway gw = RunningGateway.start(dir, TestConfig.terminate(dir, "http", "mtls", backend.endpoint()));
             MtlsClient a = callers.caller(callers.callerA); MtlsClient b = callers.caller(callers.pki.callerB); MtlsClient c = callers.caller(callers.callerC)) {
            assertThat(call(b, gw)).isTrue();
            assertThat(call(c, gw)).as("C is not trusted yet").isFalse();

            // The load: callers whose roots stay in the bundle, back to back, each a full handshake.
            RotationCallers.Load load = RotationCallers.load(a, gw, Duration.ofSeconds(60), 5_000);
            // An open connection of B, made before B leaves, must keep working after.
            try (MtlsClient.Session openB = b.connect(gw.address(), TlsPeers.SNI)) {
                assertThat(openB.send(MtlsClient.get("/before")).response().status()).isEqualTo(200);

                await().atMost(Duration.ofSeconds(10)).until(() -> load.ok() >= 5);
                MeshPki.writeBundle(dir, callers.pki.clusterA, callers.pki.clusterB, callers.clusterC);
                await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).until(() -> call(c, gw));

                int beforeRemoval = load.ok();
                MeshPki.writeBundle(dir, callers.pki.clusterA, callers.clusterC);
                await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(100)).until(() -> !call(b, gw));
                assertThat(gw.outcomes(LISTENER, "denied")).isGreaterThanOrEqualTo(2); // C before it joined, B after it left
                assertThat(call(c, gw)).as("C still trusted").isTrue();
                await().atMost(Duration.ofSeconds(10)).until(() -> load.ok() >= beforeRemoval + 5);

                assertThat(openB.send(MtlsClient.get("/after")).response().status())
                        .as("connections open before the rotation are untouched").isEqualTo(200);
            }
            assertThat(load.stop(Duration.ofSeconds(70))).as("failed calls of a caller whose root never left").isEmpty();
            assertThat(load.ok()).isGreaterThanOrEqualTo(10);
            assertThat(gw.counter("meshgate.tls.reload", "result", "ok")).isEqualTo(2);
        }
    }

    @Test
    void shouldKeepTheOldBundleWhenTheNewFileIsBroken() throws Exception {
        callers.pki.writeGatewayFiles(dir, callers.pki.clusterA, callers.pki.clusterB);
        try (MeshBackend backend = new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(callers.pki.backend, List.of(callers.pki.clusterA.rootCert())));
             RunningGateway gw = RunningGateway.start(dir, TestConfig.terminate(dir, "http", "mtls", backend.endpoint()));
             MtlsClient b = callers.caller(callers.pki.callerB)) {
            assertThat(call(b, gw)).isTrue();
            MeshPki.writeAtomically(dir.resolve("bundle.pem"), "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
            await().atMost(Duration.ofSeconds(10)).until(() -> gw.counter("meshgate.tls.reload", "result", "failed") >= 1);
            assertThat(gw.gateway().tls().orElseThrow().current().bundle().roots()).hasSize(2);
            assertThat(call(b, gw)).as("new handshakes still verify against the old bundle").isTrue();
            assertThat(gw.outcomes(LISTENER, "denied")).isZero();
        }
    }
}
