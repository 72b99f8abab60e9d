package io.meshgate.gateway.cli;

import static io.meshgate.gateway.cli.CliRun.run;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewStatus;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meshgate check} against real PKI files, an API server that answers SelfSubjectAccessReviews
 * (fabric8's mock in expectation mode, denying what a test says) and a real listening socket as the
 * remote gateway: PASS lines and exit 0 when all is well, a FAIL line naming the problem and exit 1
 * otherwise, exit 2 for an invalid config.
 */
class CheckCommandTest {

    private static final KubernetesSerialization JSON = new KubernetesSerialization();

    @TempDir
    Path dir;

    private KubernetesMockServer api;
    private final Set<String> denied = ConcurrentHashMap.newKeySet();
    private ServerSocket gateway;

    @BeforeEach
    void start() throws Exception {
        api = new KubernetesMockServer(false);
        api.init(InetAddress.getLoopbackAddress(), 0);
        api.expect().post().withPath("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews").andReply(201, request -> {
            SelfSubjectAccessReview review = JSON.unmarshal(request.getBody().readUtf8(), SelfSubjectAccessReview.class);
            String resource = review.getSpec().getResourceAttributes().getResource();
            review.setStatus(new SubjectAccessReviewStatus(!denied.contains(resource), false, null, null));
            return review;
        }).always();
        gateway = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        for (String cluster : new String[] {"a", "rogue"}) {
            assertThat(run("pki", "init-cluster", "--name", cluster, "--trust-domain", "cluster.local", "--out",
                    dir.resolve(cluster).toString()).code()).isZero();
        }
        assertThat(run("pki", "issue", "--ca", dir.resolve("a").toString(), "--spiffe",
                "spiffe://cluster.local/ns/meshgate-system/sa/meshgate", "--out", dir.resolve("gw").toString()).code()).isZero();
        Files.writeString(dir.resolve("api.kubeconfig"), """
                apiVersion: v1
                kind: Config
                clusters: [{name: m, cluster: {server: "http://127.0.0.1:%d"}}]
                contexts: [{name: m, context: {cluster: m, user: m}}]
                current-context: m
                users: [{name: m, user: {token: t}}]
                """.formatted(api.getPort()));
    }

    @AfterEach
    void stop() throws Exception {
        gateway.close();
        api.destroy();
    }

    private Path config(String bundleOf, int gatewayPort) throws Exception {
        assertThat(run("pki", "bundle", "--out", dir.resolve("bundle.pem").toString(),
                dir.resolve(bundleOf).resolve("root-cert.pem").toString()).code()).isZero();
        Path file = dir.resolve("meshgate.yaml");
        Files.writeString(file, """
                listeners:
                  - {name: eastwest-mtls, address: "127.0.0.1:0", mode: terminate}
                admin: {address: "127.0.0.1:0"}
                tls:
                  certificateChain: gw/cert-chain.pem
                  privateKey: gw/key.pem
                  trustBundle: bundle.pem
                discovery:
                  clusters:
                    - name: cluster-a
                      kubeconfig: api.kubeconfig
                    - name: cluster-b
                      kubeconfig: api.kubeconfig
                      remote: true
                      gateway: "127.0.0.1:%d"
                """.formatted(gatewayPort));
        return file;
    }

    @Test
    void everythingInPlacePassesAndExitsZero() throws Exception {
        CliRun.Result r = run("check", "--config", config("a", gateway.getLocalPort()).toString());

        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).doesNotContain("FAIL").contains(
                "PASS config:", "PASS tls.certificateChain:", "PASS tls.privateKey:", "PASS tls.trustBundle:",
                "PASS serving chain:", "PASS cluster cluster-a: API server http://127.0.0.1:" + api.getPort() + "/ answers",
                "PASS cluster cluster-b: east-west gateway 127.0.0.1:" + gateway.getLocalPort(), "all checks passed");
    }

    @Test
    void eachProblemIsAFailLineNamingItAndExitsOne() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        denied.add("endpointslices");

        CliRun.Result r = run("check", "--config", config("rogue", closed).toString(), "--timeout", "2s");

        assertThat(r.code()).as(r.out()).isEqualTo(1);
        assertThat(r.out()).contains("FAIL serving chain:", "does not lead to a root of the bundle")
                .contains("FAIL cluster cluster-a: not allowed: [list discovery.k8s.io/endpointslices, watch discovery.k8s.io/endpointslices]")
                .doesNotContain("\tat ");
        denied.clear();
        CliRun.Result gatewayDown = run("check", "--config", config("a", closed).toString(), "--timeout", "2s");
        assertThat(gatewayDown.code()).isEqualTo(1);
        assertThat(gatewayDown.out()).contains("FAIL cluster cluster-b: east-west gateway 127.0.0.1:" + closed);
    }

    @Test
    void withTrustFederationEveryClusterMustLetItReadItsRootsAndTheLocalOneWriteTheBundle() throws Exception {
        Path file = config("a", gateway.getLocalPort());
        Files.writeString(file, Files.readString(file) + """
                trust:
                  federation:
                    rootsFrom: {kind: ConfigMap, namespace: meshgate-system, name: meshgate-root, key: root-cert.pem}
                    publish: {namespace: meshgate-system, name: meshgate-federated-bundle, key: bundle.pem}
                """);
        CliRun.Result ok = run("check", "--config", file.toString());
        assertThat(ok.code()).as(ok.out() + ok.err()).isZero();
        assertThat(ok.out()).contains("get configmaps meshgate-root in meshgate-system",
                "create configmaps in meshgate-system", "update configmaps meshgate-federated-bundle in meshgate-system");

        denied.add("configmaps");
        CliRun.Result r = run("check", "--config", file.toString());

        assertThat(r.code()).as(r.out()).isEqualTo(1);
        assertThat(r.out()).contains("FAIL cluster cluster-a: not allowed: [get configmaps meshgate-root in meshgate-system, "
                        + "list configmaps meshgate-root in meshgate-system, watch configmaps meshgate-root in meshgate-system, "
                        + "create configmaps in meshgate-system, get configmaps meshgate-federated-bundle in meshgate-system, "
                        + "update configmaps meshgate-federated-bundle in meshgate-system]")
                .contains("FAIL cluster cluster-b: not allowed: [get configmaps meshgate-root in meshgate-system, "
                        + "list configmaps meshgate-root in meshgate-system, watch configmaps meshgate-root in meshgate-system]");
    }

    @Test
    void anInvalidConfigIsOneFailLineAndExitTwo() throws Exception {
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, "listeners: []\n");

        CliRun.Result r = run("check", "--config", file.toString());

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.out()).startsWith("FAIL config:").contains("listeners");
    }
}
