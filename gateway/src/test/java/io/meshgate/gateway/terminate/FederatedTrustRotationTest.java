package io.meshgate.gateway.terminate;

import static io.meshgate.gateway.testing.RotationCallers.call;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.meshgate.gateway.testing.MeshBackend;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.MtlsClient;
import io.meshgate.gateway.testing.RotationCallers;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.routing.kubernetes.MockApiServer;
import io.meshgate.routing.kubernetes.RemoteSecrets;
import io.meshgate.tls.Pem;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trust federation under a running terminate listener: a third cluster joins by its remote Secret
 * alone, its published root is trusted by new handshakes within seconds (no restart, no file
 * change), the Secret is deleted and after {@code removalGrace} its callers are refused; callers
 * whose roots never change keep connecting throughout with no failure.
 */
@Timeout(180)
class FederatedTrustRotationTest {

    static final String NS = "meshgate-system";
    static RotationCallers callers;

    @TempDir
    Path dir;

    @BeforeAll
    static void certificates() throws Exception {
        callers = new RotationCallers();
    }

    @Test
    void aClusterJoiningByItsSecretIsTrustedWithinSecondsAndRefusedAfterItLeavesAndTheGrace() throws Exception {
        callers.pki.writeGatewayFiles(dir, callers.pki.clusterA, callers.pki.clusterB);
        Duration grace = Duration.ofSeconds(3);
        try (MockApiServer apiA = MockApiServer.start(); MockApiServer apiC = MockApiServer.start();
             MeshBackend backend = new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(callers.pki.backend, List.of(callers.pki.clusterA.rootCert())))) {
            Path kubeconfigA = apiA.writeKubeconfig(dir.resolve("a.kubeconfig"), "cluster-a");
            apiC.apply(new ConfigMapBuilder().withNewMetadata().withNamespace(NS).withName("meshgate-root").endMetadata()
                    .addToData("root-cert.pem", Pem.encode(callers.clusterC.rootCert())).build());
            TestConfig config = TestConfig.terminate(dir, "http", "mtls", backend.endpoint())
                    .cluster("cluster-a", kubeconfigA.toString()).remoteSecrets(NS)
                    .set("trust.federation.removalGrace", grace.toSeconds() + "s");
            try (RunningGateway gw = RunningGateway.start(dir, config);
                 MtlsClient a = callers.caller(callers.callerA); MtlsClient c = callers.caller(callers.callerC)) {
                assertThat(call(c, gw)).as("C is not trusted yet").isFalse();

                RotationCallers.Load load = RotationCallers.load(a, gw, Duration.ofSeconds(120), Integer.MAX_VALUE);
                await().atMost(Duration.ofSeconds(20)).until(() -> load.ok() >= 5);

                Secret secret = new SecretBuilder().withNewMetadata().withNamespace(NS).withName("remote-cluster-c")
                        .addToLabels(RemoteSecrets.LABEL, "true").addToAnnotations(RemoteSecrets.NAME_ANNOTATION, "cluster-c")
                        .endMetadata().addToStringData("kubeconfig", apiC.kubeconfig("cluster-c")).build();
                long joined = System.nanoTime();
                apiA.apply(secret);
                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> call(c, gw));
                long acceptedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - joined);
                // The bundle is published after the trust changes (its own write to the API server): allow it a moment.
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).untilAsserted(() ->
                        assertThat(apiA.admin().configMaps().inNamespace(NS).withName("meshgate-federated-bundle").get()
                                .getData().get("bundle.pem")).contains(Pem.encode(callers.clusterC.rootCert()).trim())
                                .contains(Pem.encode(callers.pki.clusterA.rootCert()).trim()));
                assertThat(gw.admin("/debug/trust").body()).contains("\"cluster:cluster-c\"");
                assertThat(gw.admin("/metrics").body()).contains("meshgate_trust_roots{source=\"cluster:cluster-c\"} 1.0");

                apiA.delete(secret);
                long left = System.nanoTime();
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> !call(c, gw));
                long refusedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - left);
                assertThat(refusedAfterMs).as("trusted during the grace").isGreaterThanOrEqualTo(grace.toMillis() - 500);
                int afterRemoval = load.ok();
                await().atMost(Duration.ofSeconds(20)).until(() -> load.ok() >= afterRemoval + 5);
                assertThat(load.stop(Duration.ofSeconds(130))).as("failed calls of a caller whose root never left").isEmpty();
                System.out.printf("federated root accepted %d ms after the Secret, refused %d ms after its deletion (grace %s), "
                        + "%d calls without failure%n", acceptedAfterMs, refusedAfterMs, grace, load.ok());
            }
        }
    }
}
