package io.meshgate.e2e.real;

import static io.meshgate.e2e.real.Workloads.apply;
import static io.meshgate.e2e.real.Workloads.awaitReadyPods;
import static io.meshgate.e2e.real.Workloads.deployment;
import static io.meshgate.e2e.real.Workloads.namespace;
import static io.meshgate.e2e.real.Workloads.service;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.e2e.ClientHellos;
import io.meshgate.routing.kubernetes.real.ControlPlane;
import io.meshgate.routing.kubernetes.real.ControlPlanes;
import io.meshgate.routing.kubernetes.real.RealCluster;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two real clusters joined as the docs describe: {@code meshgate remote-secret} run on cluster-a's
 * ServiceAccount token, applied to cluster-b; a caller in cluster-b reaches, through cluster-b's
 * egress listener and cluster-a's east-west gateway, a real server behind a pod IP of cluster-a.
 */
// Bounded, but above the suite's 60 s default: applying manifests and waiting for controllers adds up.
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@RealCluster(count = 2)
class RealTwoClustersTest {

    static final String SNI = "outbound_.8080_._.echo.demo.svc.cluster.local";

    @TempDir
    Path dir;

    @Test
    void egressInBReachesAPodOfAThroughAsGatewayUntilTheRemoteSecretGoes(ControlPlanes planes) throws Exception {
        ControlPlane a = planes.get(0);
        ControlPlane b = planes.get(1);
        Path deploy = Path.of("..", "deploy").toAbsolutePath().normalize();
        a.kubectl("apply", "--server-side", "-k", deploy.resolve("base").toString());
        b.kubectl("apply", "--server-side", "-k", deploy.resolve("base").toString());
        apply(a, namespace("demo"), deployment("demo", "echo", 1, 8080), service("demo", "echo", 8080, "8080", false));
        String podIp = awaitReadyPods(a, "demo", "echo", 8080, 1).get(0).split(":")[0];
        String pod = a.kubectl("-n", "demo", "get", "pods", "-l", "app=echo", "-o", "jsonpath={.items[0].metadata.name}");

        // A real server behind the pod's IP.
        Path echo = Workloads.echoServer(dir);
        a.serve("demo/" + pod, "java", "-Xmx64m", echo.toString(), "8080");
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() -> connects(podIp, 8080));

        int eastwestA = MeshgateProcess.freePort();
        int egressB = MeshgateProcess.freePort();
        try (MeshgateProcess gatewayA = MeshgateProcess.start(dir.resolve("a"), """
                listeners:
                  - {name: eastwest, address: "127.0.0.1:%d", mode: passthrough}
                discovery:
                  clusters:
                    - {name: cluster-a, kubeconfig: "%s"}
                """.formatted(eastwestA, a.kubeconfig()));
             MeshgateProcess gatewayB = MeshgateProcess.start(dir.resolve("b"), """
                listeners:
                  - {name: egress, address: "127.0.0.1:%d", mode: egress}
                discovery:
                  clusters:
                    - {name: cluster-b, kubeconfig: "%s"}
                  remoteSecrets: {namespace: meshgate-system}
                """.formatted(egressB, b.kubeconfig()))) {
            gatewayA.awaitReady(Duration.ofSeconds(60));
            gatewayB.awaitReady(Duration.ofSeconds(60));

            // The documented path: remote-secret, run with cluster A's admin credentials, creates A's
            // read-only reader account (RBAC + token Secret) and prints a Secret holding only its token.
            String secret = remoteSecret(a.kubeconfig(), "cluster-a", "127.0.0.1:" + eastwestA, "--create-service-account");
            assertThat(secret).contains("certificate-authority-data").contains("token").doesNotContain("client-key-data");
            b.kubectlWithInput(secret, "apply", "-f", "-");

            byte[] hello = ClientHellos.withSni(SNI);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200))
                    .untilAsserted(() -> assertThat(echoed(egressB, hello)).as("echoed by the server behind %s; gateway B:%n%s%nroutes B: %s%ngateway A:%n%s", podIp,
                                    gatewayB.log(), gatewayB.get("/debug/routes").body(), gatewayA.log())
                            .isEqualTo(hello));
            assertThat(gatewayA.metric("meshgate_downstream_connections_total{listener=\"eastwest\",outcome=\"routed\"}"))
                    .isGreaterThanOrEqualTo(1.0);

            b.kubectl("-n", "meshgate-system", "delete", "secret", "meshgate-remote-cluster-a");
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                    .untilAsserted(() -> assertThat(gatewayB.get("/debug/routes").body()).doesNotContain("cluster-a"));
            assertThat(echoed(egressB, hello)).as("no route to cluster-a any more").isEmpty();
        }
    }

    static boolean connects(String ip, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getByName(ip), port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Sends {@code hello} to the egress listener and reads back as many bytes (or fewer on close). */
    static byte[] echoed(int port, byte[] hello) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(hello);
            InputStream in = s.getInputStream();
            byte[] back = new byte[hello.length];
            int n = 0;
            while (n < back.length) {
                int r = in.read(back, n, back.length - n);
                if (r < 0) {
                    break;
                }
                n += r;
            }
            return Arrays.copyOf(back, n);
        }
    }

    static String remoteSecret(Path kubeconfig, String name, String gateway, String... more) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("java", "-jar", MeshgateProcess.JAR.toString(),
                "remote-secret", "--kubeconfig", kubeconfig.toString(), "--name", name, "--gateway", gateway));
        cmd.addAll(java.util.List.of(more));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(new String(p.getErrorStream().readAllBytes())).isZero();
        return new String(out);
    }

}
