package io.meshgate.e2e.real;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.meshgate.routing.kubernetes.real.ControlPlane;
import io.meshgate.routing.kubernetes.real.ControlPlanes;
import io.meshgate.routing.kubernetes.real.RealCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code trust.federation.publish.clusterTrustBundle} against real kube-apiservers that serve
 * {@code certificates.k8s.io/v1beta1} ClusterTrustBundles (feature gate on), under the real RBAC
 * authorizer and the ClusterTrustBundleAttest admission plugin: meshgate runs as its own
 * ServiceAccount with the shipped manifests ({@code deploy/base} plus the
 * {@code components/cluster-trust-bundles} component, the documented opt-in) and writes one bundle
 * per source cluster ({@code meshgate.io:federation:<cluster>}, signer {@code meshgate.io/federation}),
 * updates it when the cluster's root rotates (and leaves the others untouched), deletes it after
 * {@code removalGrace} when the cluster leaves, and never touches bundles it did not create. With the
 * switch off (the other cluster's gateway, base manifests only) nothing is written.
 */
// Bounded, but above the suite's 60 s default: two planes, manifests, two gateways, grace periods.
@Timeout(value = 5, unit = TimeUnit.MINUTES)
@RealCluster(count = 2, clusterTrustBundles = true)
class RealClusterTrustBundleTest {

    static final String NS = "meshgate-system";
    static final String SIGNER = "meshgate.io/federation";
    static final String SA = "system:serviceaccount:meshgate-system:meshgate";
    static final ResourceDefinitionContext CTB = new ResourceDefinitionContext.Builder()
            .withGroup("certificates.k8s.io").withVersion("v1beta1").withKind("ClusterTrustBundle")
            .withPlural("clustertrustbundles").withNamespaced(false).build();

    /** How long the API server's RBAC caches may take to show what was just applied. */
    static final Duration RBAC_PROPAGATION = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void oneBundlePerSourceClusterFollowsRotationAndMembershipAndTouchesNothingElse(ControlPlanes planes) throws Exception {
        ControlPlane a = planes.get(0);
        ControlPlane b = planes.get(1);
        Path deploy = Path.of("..", "deploy").toAbsolutePath().normalize(); // tests run in src/
        Path pki = dir.resolve("pki");
        for (String c : List.of("cluster-a", "cluster-b", "cluster-b-next")) {
            RealOverlaysTest.cli("pki", "init-cluster", "--name", c, "--trust-domain", "cluster.local", "--out", pki.resolve(c).toString());
        }
        String rootA = Files.readString(pki.resolve("cluster-a/root-cert.pem"));
        String rootB = Files.readString(pki.resolve("cluster-b/root-cert.pem"));
        String rootBNext = Files.readString(pki.resolve("cluster-b-next/root-cert.pem"));

        // Cluster A: the base plus the documented opt-in component; cluster B: the base only.
        Path withComponent = Files.createDirectories(dir.resolve("kustomize-a"));
        Files.writeString(withComponent.resolve("kustomization.yaml"), """
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                resources: [%s]
                components: [%s]
                """.formatted(withComponent.relativize(deploy.resolve("base")),
                        withComponent.relativize(deploy.resolve("components/cluster-trust-bundles"))));
        a.kubectl("apply", "--server-side", "-k", withComponent.toString());
        b.kubectl("apply", "--server-side", "-k", deploy.resolve("base").toString());
        publishRoot(a, rootA);
        publishRoot(b, rootB);

        // What meshgate did not create: a bundle under its signer without its label, and a labelled
        // one of another signer. Both must stay exactly as they are.
        KubernetesClient adminA = a.client();
        var bundlesA = adminA.genericKubernetesResources(CTB);
        bundlesA.resource(bundle("meshgate.io:federation:legacy", SIGNER, rootBNext, Map.of())).create();
        bundlesA.resource(bundle("example.com:other:cluster-b", "example.com/other", rootBNext,
                Map.of("meshgate.io/federated-bundle", "true"))).create();
        Map<String, String> foreign = versions(adminA, "meshgate.io:federation:legacy", "example.com:other:cluster-b");

        // The authorizer's own answer: meshgate may attest for its signer and no other. The RBAC
        // authorizer answers from caches that follow the objects just applied on their own clock
        // (seconds on a loaded machine), so each plane's grant is awaited first: a "no" after it is
        // the policy's answer, not a cache that has not caught up.
        awaitAllowed(a, "attest", "certificates.k8s.io", "signers", SIGNER);
        assertThat(canI(a, "attest", "certificates.k8s.io", "signers", "example.com/other")).isEqualTo("no");
        awaitAllowed(b, "list", "discovery.k8s.io", "endpointslices", null); // what the base does grant
        // (Reading them is everybody's: the bootstrap ClusterRole system:cluster-trust-bundle-discovery.)
        assertThat(canI(b, "delete", "certificates.k8s.io", "clustertrustbundles", null)).as("base alone grants none").isEqualTo("no");
        assertThat(canI(b, "create", "certificates.k8s.io", "clustertrustbundles", null)).as("base alone grants none").isEqualTo("no");
        assertThat(canI(b, "attest", "certificates.k8s.io", "signers", SIGNER)).as("base alone grants none").isEqualTo("no");

        List<MeshgateProcess> gateways = new ArrayList<>();
        try {
            MeshgateProcess ga = gateway(a, "cluster-a", true);
            gateways.add(ga);
            MeshgateProcess gb = gateway(b, "cluster-b", false);
            gateways.add(gb);
            ga.awaitReady(Duration.ofSeconds(90));
            gb.awaitReady(Duration.ofSeconds(90));
            // cluster-b joins A's gateway by its remote Secret (a reader account in B).
            String secret = RealTwoClustersTest.remoteSecret(b.kubeconfig(), "cluster-b", "127.0.0.1:1",
                    "--server", b.apiUrl(), "--create-service-account");
            a.kubectlWithInput(secret, "apply", "-f", "-");

            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() -> {
                assertThat(meshgateBundles(adminA)).as("A's gateway log:%n%s", ga.log())
                        .containsOnlyKeys("meshgate.io:federation:cluster-a", "meshgate.io:federation:cluster-b");
                assertThat(certificates(trustBundle(adminA, "meshgate.io:federation:cluster-a"))).isEqualTo(certificates(rootA));
                assertThat(certificates(trustBundle(adminA, "meshgate.io:federation:cluster-b"))).isEqualTo(certificates(rootB));
            });
            for (String name : List.of("meshgate.io:federation:cluster-a", "meshgate.io:federation:cluster-b")) {
                GenericKubernetesResource written = bundlesA.withName(name).get();
                assertThat(spec(written)).containsEntry("signerName", SIGNER);
                assertThat(written.getMetadata().getLabels()).containsEntry("meshgate.io/federated-bundle", "true")
                        .containsEntry("app.kubernetes.io/managed-by", "meshgate");
            }
            String aVersion = bundlesA.withName("meshgate.io:federation:cluster-a").get().getMetadata().getResourceVersion();

            // Rotation in B: old and new root together, then the new one alone (the old one leaves after the grace).
            publishRoot(b, rootB + rootBNext);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                    assertThat(certificates(trustBundle(adminA, "meshgate.io:federation:cluster-b")))
                            .as("A's gateway log:%n%s", ga.log()).isEqualTo(certificates(rootB + rootBNext)));
            publishRoot(b, rootBNext);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                    assertThat(certificates(trustBundle(adminA, "meshgate.io:federation:cluster-b")))
                            .as("A's gateway log:%n%s", ga.log()).isEqualTo(certificates(rootBNext)));
            assertThat(bundlesA.withName("meshgate.io:federation:cluster-a").get().getMetadata().getResourceVersion())
                    .as("cluster-a's bundle did not change, so it was not written").isEqualTo(aVersion);

            // cluster-b leaves (its remote Secret deleted): its bundle goes after removalGrace, A's stays.
            a.kubectl("-n", NS, "delete", "secret", "-l", "meshgate.io/remote-cluster=true");
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                    assertThat(meshgateBundles(adminA)).as("A's gateway log:%n%s", ga.log())
                            .containsOnlyKeys("meshgate.io:federation:cluster-a"));
            assertThat(versions(adminA, foreign.keySet().toArray(String[]::new)))
                    .as("bundles meshgate did not create are untouched").isEqualTo(foreign);

            // B's gateway, switch off: it publishes its ConfigMap but no ClusterTrustBundle.
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                    assertThat(b.client().configMaps().inNamespace(NS).withName("meshgate-federated-bundle").get())
                            .as("B's gateway log:%n%s", gb.log()).isNotNull());
            assertThat(b.client().genericKubernetesResources(CTB).list().getItems()).as("switch off: nothing written").isEmpty();

            assertThat(ga.metric("meshgate_trust_publish_total{result=\"failed\"}")).as("A's gateway log:%n%s", ga.log()).isNaN();
            assertThat(ga.metric("meshgate_trust_publish_total{result=\"created\"}")).isGreaterThanOrEqualTo(3.0);
            for (MeshgateProcess g : gateways) {
                assertThat(g.log()).doesNotContain("\tat ").doesNotContain("cannot write");
            }
        } finally {
            for (MeshgateProcess g : gateways) {
                g.close();
            }
        }
    }

    /** meshgate on the host, as {@code plane}'s meshgate ServiceAccount (a TokenRequest token, not admin). */
    private MeshgateProcess gateway(ControlPlane plane, String cluster, boolean clusterTrustBundle) {
        Path kubeconfig = ServiceAccountKubeconfig.write(plane, NS, "meshgate", dir.resolve(cluster + "-sa.kubeconfig"));
        return MeshgateProcess.start(dir.resolve("gateway-" + cluster), """
                listeners:
                  - {name: eastwest, address: "127.0.0.1:%d", mode: passthrough}
                discovery:
                  clusters:
                    - {name: %s, kubeconfig: "%s"}
                  remoteSecrets: {namespace: %s}
                trust:
                  federation:
                    rootsFrom: {kind: ConfigMap, namespace: %4$s, name: meshgate-root, key: root-cert.pem}
                    publish: {namespace: %4$s, name: meshgate-federated-bundle, key: bundle.pem, clusterTrustBundle: %s}
                    removalGrace: 3s
                """.formatted(MeshgateProcess.freePort(), cluster, kubeconfig, NS, clusterTrustBundle));
    }

    private static void publishRoot(ControlPlane plane, String pem) throws Exception {
        Path f = Files.createTempFile("root-", ".pem");
        try {
            Files.writeString(f, pem);
            plane.kubectlWithInput(plane.kubectl("-n", NS, "create", "configmap", "meshgate-root",
                    "--from-file=root-cert.pem=" + f, "--dry-run=client", "-o", "yaml"), "apply", "-f", "-");
        } finally {
            Files.deleteIfExists(f);
        }
    }

    private static GenericKubernetesResource bundle(String name, String signer, String pem, Map<String, String> labels) {
        GenericKubernetesResource r = new GenericKubernetesResourceBuilder().withApiVersion("certificates.k8s.io/v1beta1")
                .withKind("ClusterTrustBundle").withNewMetadata().withName(name).withLabels(labels).endMetadata().build();
        r.setAdditionalProperty("spec", Map.of("signerName", signer, "trustBundle", pem));
        return r;
    }

    /** meshgate's bundles (by its label) and their PEM text. */
    private static Map<String, String> meshgateBundles(KubernetesClient client) {
        Map<String, String> out = new TreeMap<>();
        for (GenericKubernetesResource r : client.genericKubernetesResources(CTB)
                .withLabel("meshgate.io/federated-bundle", "true").list().getItems()) {
            if ("meshgate.io/federation".equals(spec(r).get("signerName"))) {
                out.put(r.getMetadata().getName(), (String) spec(r).get("trustBundle"));
            }
        }
        return out;
    }

    private static String trustBundle(KubernetesClient client, String name) {
        GenericKubernetesResource r = client.genericKubernetesResources(CTB).withName(name).get();
        assertThat(r).as("ClusterTrustBundle %s", name).isNotNull();
        return (String) spec(r).get("trustBundle");
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> spec(GenericKubernetesResource r) {
        return (Map<String, Object>) r.getAdditionalProperties().get("spec");
    }

    private static Map<String, String> versions(KubernetesClient client, String... names) {
        Map<String, String> out = new TreeMap<>();
        for (String n : names) {
            GenericKubernetesResource r = client.genericKubernetesResources(CTB).withName(n).get();
            out.put(n, r == null ? "(deleted)" : r.getMetadata().getResourceVersion());
        }
        return out;
    }

    /** The authorizer's answer for meshgate's ServiceAccount (a SubjectAccessReview, as the admission plugin asks it). */
    private static String canI(ControlPlane plane, String verb, String group, String resource, String name) {
        var review = new io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder().withNewSpec()
                .withUser(SA).withGroups("system:serviceaccounts", "system:serviceaccounts:" + NS, "system:authenticated")
                .withNewResourceAttributes().withVerb(verb).withGroup(group).withResource(resource).withName(name)
                .endResourceAttributes().endSpec().build();
        return plane.client().authorization().v1().subjectAccessReview().create(review).getStatus().getAllowed()
                ? "yes" : "no";
    }

    /** Waits (bounded) until the authorizer allows meshgate's ServiceAccount {@code verb} on the resource. */
    private static void awaitAllowed(ControlPlane plane, String verb, String group, String resource, String name) {
        await("RBAC on " + plane.name() + " to allow " + SA + " " + verb + " " + group + "/" + resource + (name == null ? "" : " " + name))
                .atMost(RBAC_PROPAGATION).pollInterval(Duration.ofMillis(200))
                .until(() -> canI(plane, verb, group, resource, name), "yes"::equals);
    }

    private static Set<X509Certificate> certificates(String pem) throws Exception {
        return new HashSet<>(RealOverlaysTest.certificates(pem));
    }
}
