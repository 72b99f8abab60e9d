package io.meshgate.e2e.real;

import static io.meshgate.e2e.real.Workloads.apply;
import static io.meshgate.e2e.real.Workloads.awaitReadyPods;
import static io.meshgate.e2e.real.Workloads.deployment;
import static io.meshgate.e2e.real.Workloads.namespace;
import static io.meshgate.e2e.real.Workloads.service;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.meshgate.e2e.ClientHellos;
import io.meshgate.routing.kubernetes.real.ControlPlane;
import io.meshgate.routing.kubernetes.real.ControlPlanes;
import io.meshgate.routing.kubernetes.real.RealCluster;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped overlays form a mesh on two real control planes, following docs/deploy.md: a CA per
 * cluster and the gateways' identities ({@code meshgate pki}), the namespace, Secrets and published
 * root (step 3, re-runnable {@code --dry-run=client -o yaml | kubectl apply -f -}), {@code kubectl apply -k
 * deploy/overlays/cluster-a} on plane A and {@code cluster-b} on plane B (step 5), the remote
 * Secrets from {@code meshgate remote-secret --create-service-account} (step 6) and an exported
 * namespace (step 7). Then a caller in each cluster reaches, through its own cluster's egress
 * listener and the other cluster's east-west listener, a real server behind a pod IP of the other
 * cluster; and trust federation has each gateway trust both clusters' published roots
 * ({@code /debug/trust} sources) and write them into its cluster's {@code meshgate-federated-bundle}.
 *
 * <p>kwok runs no containers, so each cluster's gateway runs on the host as its pod would: the jar
 * with {@code meshgate.yaml} taken unmodified from the ConfigMap the applied Deployment mounts, except
 * for what the kubelet and the cloud would provide, and nothing else:
 * <ul>
 *   <li><b>the pod's network namespace</b>: each listener's and the admin server's {@code 0.0.0.0:PORT}
 *       becomes {@code 127.0.0.1:<free port>} (two gateways share the host);</li>
 *   <li><b>the Secret volumes</b>: the Deployment's Secret volumes ({@code meshgate-identity},
 *       {@code meshgate-trust-bundle}) are written, key by key, from the Secrets in the cluster to a
 *       directory that replaces their {@code mountPath} in the config;</li>
 *   <li><b>the in-cluster ServiceAccount</b>: {@code KUBERNETES_SERVICE_HOST}/{@code _PORT} (as the
 *       kubelet sets them), a TokenRequest token for {@code meshgate-system/meshgate} and the cluster's
 *       CA in files named by fabric8's {@code KUBERNETES_AUTH_SERVICEACCOUNT_TOKEN} /
 *       {@code KUBERNETES_CERTS_CA_FILE} instead of {@code /var/run/secrets/kubernetes.io/serviceaccount},
 *       and {@code KUBERNETES_AUTH_TRYKUBECONFIG=false} (a pod has no kubeconfig);</li>
 *   <li><b>the load balancer</b>: kwok has no LoadBalancer controller, so {@code remote-secret} is given
 *       the other gateway's address with {@code --gateway} instead of it being read from the Service's
 *       load-balancer ingress.</li>
 * </ul>
 */
// Bounded, but above the suite's 60 s default: two planes, manifests, controllers and two gateways.
@Timeout(value = 8, unit = TimeUnit.MINUTES)
@RealCluster(count = 2)
class RealOverlaysTest {

    static final String NS = "meshgate-system";
    static final ObjectMapper JSON = new ObjectMapper();
    /** What each cluster exports: a Service only it has, so a caller elsewhere must cross. */
    static final Map<String, String> SERVICE = Map.of("cluster-a", "alpha", "cluster-b", "beta");
    static final String ROUTED = "meshgate_downstream_connections_total{listener=\"eastwest\",outcome=\"routed\"}";

    @TempDir
    Path dir;

    @Test
    void theShippedOverlaysCarryTrafficBothWaysBetweenTwoRealClusters(ControlPlanes planes) throws Exception {
        ControlPlane a = planes.get(0);
        ControlPlane b = planes.get(1);
        Path deploy = Path.of("..", "deploy").toAbsolutePath().normalize(); // tests run in src/

        // docs/deploy.md step 2: one CA per cluster, the gateways' identities, the bundle.
        Path pki = dir.resolve("pki");
        for (String c : List.of("cluster-a", "cluster-b")) {
            cli("pki", "init-cluster", "--name", c, "--trust-domain", "cluster.local", "--out", pki.resolve(c).toString());
            cli("pki", "issue", "--ca", pki.resolve(c).toString(), "--spiffe", "spiffe://cluster.local/ns/meshgate-system/sa/meshgate",
                    "--dns", "meshgate.meshgate-system.svc", "--out", pki.resolve(c).resolve("gateway").toString());
        }
        cli("pki", "bundle", "--out", pki.resolve("bundle.pem").toString(),
                pki.resolve("cluster-a/root-cert.pem").toString(), pki.resolve("cluster-b/root-cert.pem").toString());

        Map<String, ControlPlane> byCluster = new LinkedHashMap<>();
        byCluster.put("cluster-a", a);
        byCluster.put("cluster-b", b);
        Map<String, Integer> eastwest = new LinkedHashMap<>();
        Map<String, Integer> egress = new LinkedHashMap<>();
        Map<String, String> podIps = new LinkedHashMap<>();
        List<MeshgateProcess> gateways = new ArrayList<>();
        try {
            for (var e : byCluster.entrySet()) {
                String c = e.getKey();
                ControlPlane plane = e.getValue();
                // Step 3, run twice: it is re-runnable.
                for (int run = 0; run < 2; run++) {
                    applyDryRun(plane, "create", "namespace", NS);
                    applyDryRun(plane, "-n", NS, "create", "secret", "generic", "meshgate-identity",
                            "--from-file=cert-chain.pem=" + pki.resolve(c + "/gateway/cert-chain.pem"),
                            "--from-file=key.pem=" + pki.resolve(c + "/gateway/key.pem"));
                    applyDryRun(plane, "-n", NS, "create", "secret", "generic", "meshgate-trust-bundle",
                            "--from-file=bundle.pem=" + pki.resolve("bundle.pem"));
                    applyDryRun(plane, "-n", NS, "create", "configmap", "meshgate-root",
                            "--from-file=root-cert.pem=" + pki.resolve(c + "/root-cert.pem"));
                }
                // Step 5: the shipped overlay, unmodified.
                plane.kubectl("apply", "--server-side", "-k", deploy.resolve("overlays/" + c).toString());
                // Step 7: something exported, with a real server behind its pod's IP.
                String app = SERVICE.get(c);
                apply(plane, namespace("demo"), deployment("demo", app, 1, 8080), service("demo", app, 8080, "8080", false));
                String podIp = awaitReadyPods(plane, "demo", app, 8080, 1).get(0).split(":")[0];
                String pod = plane.kubectl("-n", "demo", "get", "pods", "-l", "app=" + app, "-o", "jsonpath={.items[0].metadata.name}");
                plane.serve("demo/" + pod, "java", "-Xmx64m", Workloads.echoServer(dir).toString(), "8080");
                podIps.put(c, podIp);

                int admin = MeshgateProcess.freePort();
                eastwest.put(c, MeshgateProcess.freePort());
                egress.put(c, MeshgateProcess.freePort());
                Path home = dir.resolve("gateway-" + c);
                String config = asThePodSeesIt(plane, home, Map.of(
                        "eastwest", eastwest.get(c), "eastwest-mtls", MeshgateProcess.freePort(), "egress", egress.get(c)), admin);
                assertThat(config).contains("name: " + c);
                gateways.add(MeshgateProcess.run(home, Files.writeString(home.resolve("meshgate.yaml"), config), admin,
                        inClusterServiceAccount(plane, home)));
            }
            for (MeshgateProcess g : gateways) {
                g.awaitReady(Duration.ofSeconds(90));
            }
            for (String ip : podIps.values()) {
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                        .until(() -> RealTwoClustersTest.connects(ip, 8080));
            }

            // Step 6: each cluster's reader account and a remote Secret for it in the other cluster.
            for (var e : byCluster.entrySet()) {
                String c = e.getKey();
                String other = c.equals("cluster-a") ? "cluster-b" : "cluster-a";
                for (int run = 0; run < 2; run++) {
                    String secret = RealTwoClustersTest.remoteSecret(e.getValue().kubeconfig(), c, "127.0.0.1:" + eastwest.get(c),
                            "--server", e.getValue().apiUrl(), "--create-service-account");
                    byCluster.get(other).kubectlWithInput(secret, "apply", "-f", "-");
                }
            }

            // A caller in one cluster → its egress listener → the other's east-west listener → the other's pod.
            for (var e : byCluster.entrySet()) {
                String to = e.getKey();
                String from = to.equals("cluster-a") ? "cluster-b" : "cluster-a";
                MeshgateProcess caller = gateways.get(from.equals("cluster-a") ? 0 : 1);
                MeshgateProcess callee = gateways.get(to.equals("cluster-a") ? 0 : 1);
                String host = SERVICE.get(to) + ".demo.svc.cluster.local";
                // East-west never serves another cluster's endpoints; egress knows that cluster's gateway for them.
                String sni = "outbound_.8080_._." + host;
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                        assertThat(JSON.readTree(caller.get("/debug/resolve?sni=" + sni).body()).path("remoteClusters").toString())
                                .as("%s resolves %s; routes: %s%nlog:%n%s", from, sni, caller.get("/debug/routes").body(), caller.log())
                                .contains("\"cluster\":\"" + to + "\"", "\"gateway\":\"127.0.0.1:" + eastwest.get(to) + "\""));
                byte[] hello = ClientHellos.withSni(sni);
                double before = metricOr0(callee, ROUTED);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                        assertThat(RealTwoClustersTest.echoed(egress.get(from), hello))
                                .as("echoed by %s's pod via its gateway; %s gateway:%n%s%n%s gateway:%n%s", to, from, caller.log(), to, callee.log())
                                .isEqualTo(hello));
                assertThat(metricOr0(callee, ROUTED)).as("%s's east-west listener routed it", to).isGreaterThan(before);
            }
            // Trust federation: each gateway reads both clusters' published roots (its own with its
            // ServiceAccount, the other's with the reader account) and writes the union into its cluster.
            Set<X509Certificate> roots = new HashSet<>();
            roots.addAll(certificates(Files.readString(pki.resolve("cluster-a/root-cert.pem"))));
            roots.addAll(certificates(Files.readString(pki.resolve("cluster-b/root-cert.pem"))));
            for (int i = 0; i < 2; i++) {
                ControlPlane plane = i == 0 ? a : b;
                MeshgateProcess g = gateways.get(i);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
                    assertThat(g.get("/debug/trust").body()).as("trust of %s; log:%n%s", plane.name(), g.log())
                            .contains("cluster:cluster-a", "cluster:cluster-b");
                    var published = plane.client().configMaps().inNamespace(NS).withName("meshgate-federated-bundle").get();
                    assertThat(published).as("the federated bundle in %s", plane.name()).isNotNull();
                    assertThat(certificates(published.getData().get("bundle.pem"))).containsAll(roots);
                });
            }
            for (MeshgateProcess g : gateways) {
                assertThat(g.log()).as("no stack trace for an expected fault").doesNotContain("\tat ");
            }
        } finally {
            for (MeshgateProcess g : gateways) {
                g.close();
            }
        }
    }

    /**
     * The {@code meshgate.yaml} the applied Deployment mounts, with the kubelet's part done on the host:
     * listener and admin addresses on loopback ports, Secret volumes written under {@code home}.
     */
    static String asThePodSeesIt(ControlPlane plane, Path home, Map<String, Integer> listenerPorts, int admin) throws IOException {
        Deployment d = plane.client().apps().deployments().inNamespace(NS).withName("meshgate").get();
        var pod = d.getSpec().getTemplate().getSpec();
        var container = pod.getContainers().get(0);
        String configDir = mountPath(container.getVolumeMounts(), "config");
        String configMap = volume(pod.getVolumes(), "config").getConfigMap().getName();
        String configFile = container.getArgs().get(container.getArgs().indexOf("--config") + 1);
        assertThat(configFile).startsWith(configDir + "/");
        String config = plane.client().configMaps().inNamespace(NS).withName(configMap).get().getData()
                .get(configFile.substring(configDir.length() + 1));
        assertThat(config).as("ConfigMap %s key of %s", configMap, configFile).isNotNull();

        for (VolumeMount m : container.getVolumeMounts()) {
            Volume v = volume(pod.getVolumes(), m.getName());
            if (v.getSecret() == null) {
                continue;
            }
            Secret s = plane.client().secrets().inNamespace(NS).withName(v.getSecret().getSecretName()).get();
            assertThat(s).as("Secret %s", v.getSecret().getSecretName()).isNotNull();
            Path mounted = Files.createDirectories(home.resolve("volumes").resolve(m.getName()));
            for (var kv : s.getData().entrySet()) {
                Files.write(mounted.resolve(kv.getKey()), Base64.getDecoder().decode(kv.getValue()));
            }
            config = replaceAll(config, Pattern.quote(m.getMountPath() + "/"), Matcher.quoteReplacement(mounted + "/"),
                    "mountPath " + m.getMountPath());
        }
        for (var l : listenerPorts.entrySet()) {
            config = replaceAll(config, "(?<head>- name: " + Pattern.quote(l.getKey()) + "(?=\\s)[^\\n]*\\n\\s+address: )0\\.0\\.0\\.0:\\d+",
                    "${head}127.0.0.1:" + l.getValue(), "listener " + l.getKey());
        }
        config = replaceAll(config, "(?<head>admin:\\s*\\n\\s+address: )0\\.0\\.0\\.0:\\d+", "${head}127.0.0.1:" + admin, "admin");
        assertThat(config).as("every address substituted").doesNotContain("0.0.0.0");
        return config;
    }

    /** The kubelet's in-cluster ServiceAccount for meshgate, as fabric8's in-cluster configuration reads it. */
    static Map<String, String> inClusterServiceAccount(ControlPlane plane, Path home) throws IOException {
        Path token = Files.writeString(home.resolve("token"), plane.kubectl("-n", NS, "create", "token", "meshgate", "--duration=1h").trim());
        URI api = URI.create(plane.apiUrl());
        return Map.of(
                "KUBERNETES_SERVICE_HOST", api.getHost(),
                "KUBERNETES_SERVICE_PORT", Integer.toString(api.getPort()),
                "KUBERNETES_AUTH_SERVICEACCOUNT_TOKEN", token.toString(),
                "KUBERNETES_CERTS_CA_FILE", plane.dir().resolve("pki/ca.crt").toString(),
                "KUBERNETES_AUTH_TRYKUBECONFIG", "false");
    }

    private static String replaceAll(String text, String regex, String replacement, String what) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertThat(m.find()).as("%s in the shipped config", what).isTrue();
        return m.replaceAll(replacement);
    }

    private static String mountPath(List<VolumeMount> mounts, String volume) {
        return mounts.stream().filter(m -> m.getName().equals(volume)).findFirst().orElseThrow().getMountPath();
    }

    private static Volume volume(List<Volume> volumes, String name) {
        return volumes.stream().filter(v -> v.getName().equals(name)).findFirst().orElseThrow();
    }

    /** {@code kubectl ARGS --dry-run=client -o yaml | kubectl apply -f -}, the docs' re-runnable form. */
    private static void applyDryRun(ControlPlane plane, String... args) {
        List<String> create = new ArrayList<>(List.of(args));
        create.addAll(List.of("--dry-run=client", "-o", "yaml"));
        plane.kubectlWithInput(plane.kubectl(create.toArray(String[]::new)), "apply", "-f", "-");
    }

    static List<X509Certificate> certificates(String pem) throws Exception {
        List<X509Certificate> out = new ArrayList<>();
        for (var c : CertificateFactory.getInstance("X.509").generateCertificates(
                new java.io.ByteArrayInputStream(pem.getBytes(java.nio.charset.StandardCharsets.US_ASCII)))) {
            out.add((X509Certificate) c);
        }
        return out;
    }

    private static double metricOr0(MeshgateProcess g, String series) {
        double v = g.metric(series);
        return Double.isNaN(v) ? 0 : v;
    }

    /** {@code meshgate ARGS} with the built jar; fails with its output unless it exits 0. */
    static void cli(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("java", "-jar", MeshgateProcess.JAR.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("meshgate %s:%n%s", String.join(" ", args), out).isZero();
    }
}
