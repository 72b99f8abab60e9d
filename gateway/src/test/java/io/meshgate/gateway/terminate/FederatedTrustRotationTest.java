package io.meshgate.gateway.terminate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.meshgate.gateway.testing.MeshBackend;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.MtlsClient;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TlsPeers;
import io.meshgate.routing.kubernetes.MockApiServer;
import io.meshgate.routing.kubernetes.RemoteSecrets;
import io.meshgate.tls.Pem;
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

    private static boolean call(MtlsClient client, RunningGateway gw) {
        try (MtlsClient.Session s = client.connect(gw.address(), TlsPeers.SNI)) {
            return s.send(MtlsClient.get("/")).response().status() == 200;
        } catch (Exception refused) {
            return false;
        }
    }

    private static MtlsClient caller(IssuedIdentity identity) {
        return new MtlsClient(MeshPki.client(identity, pki.clusterA.rootCert()));
    }

    @Test
    void aClusterJoiningByItsSecretIsTrustedWithinSecondsAndRefusedAfterItLeavesAndTheGrace() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        Duration grace = Duration.ofSeconds(3);
        try (MockApiServer apiA = MockApiServer.start(); MockApiServer apiC = MockApiServer.start();
             MeshBackend backend = new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(pki.backend, List.of(pki.clusterA.rootCert())))) {
            Path kubeconfigA = apiA.writeKubeconfig(dir.resolve("a.kubeconfig"), "cluster-a");
            apiC.apply(new ConfigMapBuilder().withNewMetadata().withNamespace(NS).withName("meshgate-root").endMetadata()
                    .addToData("root-cert.pem", Pem.encode(clusterC.rootCert())).build());
            String yaml = """
                    listeners:
                      - name: eastwest-mtls
                        address: 127.0.0.1:0
                        mode: terminate
                    admin:
                      address: 127.0.0.1:0
                    discovery:
                      clusters:
                        - name: cluster-a
                          kubeconfig: %s
                      remoteSecrets: {namespace: %s}
                      static:
                        - host: %s
                          port: 8080
                          endpoints: ["%s"]
                          protocol: http
                    runtime: {workers: 1}
                    trust:
                      federation:
                        removalGrace: %ds
                    %s
                    """.formatted(kubeconfigA, NS, TlsPeers.HOST, backend.endpoint(), grace.toSeconds(), MeshPki.tlsYaml(dir, "mtls"));
            try (RunningGateway gw = RunningGateway.start(dir, yaml);
                 MtlsClient a = caller(callerA); MtlsClient c = caller(callerC)) {
                assertThat(call(c, gw)).as("C is not trusted yet").isFalse();

                AtomicBoolean stop = new AtomicBoolean();
                AtomicInteger ok = new AtomicInteger();
                ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
                CompletableFuture<Void> load = CompletableFuture.runAsync(() -> {
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                    for (int i = 0; !stop.get() && System.nanoTime() < deadline; i++) {
                        if (call(a, gw)) {
                            ok.incrementAndGet();
                        } else {
                            failures.add("call " + i);
                        }
                    }
                });
                await().atMost(Duration.ofSeconds(20)).until(() -> ok.get() >= 5);

                Secret secret = new SecretBuilder().withNewMetadata().withNamespace(NS).withName("remote-cluster-c")
                        .addToLabels(RemoteSecrets.LABEL, "true").addToAnnotations(RemoteSecrets.NAME_ANNOTATION, "cluster-c")
                        .endMetadata().addToStringData("kubeconfig", apiC.kubeconfig("cluster-c")).build();
                long joined = System.nanoTime();
                apiA.apply(secret);
                await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() -> call(c, gw));
                long acceptedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - joined);
                String published = apiA.admin().configMaps().inNamespace(NS).withName("meshgate-federated-bundle").get()
                        .getData().get("bundle.pem");
                assertThat(published).contains(Pem.encode(clusterC.rootCert()).trim())
                        .contains(Pem.encode(pki.clusterA.rootCert()).trim());
                assertThat(gw.admin("/debug/trust").body()).contains("\"cluster:cluster-c\"");
                assertThat(gw.admin("/metrics").body()).contains("meshgate_trust_roots{source=\"cluster:cluster-c\"} 1.0");

                apiA.delete(secret);
                long left = System.nanoTime();
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> !call(c, gw));
                long refusedAfterMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - left);
                assertThat(refusedAfterMs).as("trusted during the grace").isGreaterThanOrEqualTo(grace.toMillis() - 500);
                int afterRemoval = ok.get();
                await().atMost(Duration.ofSeconds(20)).until(() -> ok.get() >= afterRemoval + 5);
                stop.set(true);
                load.get(130, TimeUnit.SECONDS);
                assertThat(failures).as("failed calls of a caller whose root never left").isEmpty();
                System.out.printf("federated root accepted %d ms after the Secret, refused %d ms after its deletion (grace %s), "
                        + "%d calls without failure%n", acceptedAfterMs, refusedAfterMs, grace, ok.get());
            }
        }
    }
}
