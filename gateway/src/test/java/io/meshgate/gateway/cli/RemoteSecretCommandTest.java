package io.meshgate.gateway.cli;

import static io.meshgate.gateway.cli.CliRun.run;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.meshgate.routing.kubernetes.MockApiServer;
import io.meshgate.routing.kubernetes.RemoteClusters;
import io.meshgate.routing.kubernetes.RemoteSecrets;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code remote-secret} against fabric8's CRUD mock API server: it creates the read-only reader
 * account, takes the token Kubernetes issues for it and prints a Secret whose kubeconfig is
 * self-contained and works; it refuses plugins and file paths (exit 2) without running or
 * echoing anything from the input file.
 */
class RemoteSecretCommandTest {

    private static final String TOKEN = "eyJ-reader-token-from-the-controller";

    @TempDir
    Path dir;

    private MockApiServer api;
    private KubernetesClient admin;

    @BeforeEach
    void startApiServer() {
        api = MockApiServer.start();
        admin = adminClient(api.port());
    }

    /** Generous timeouts: the mock's first answers can be slow on a loaded build machine. */
    private static KubernetesClient adminClient(int port) {
        io.fabric8.kubernetes.client.Config config = io.fabric8.kubernetes.client.Config.empty();
        config.setMasterUrl("http://127.0.0.1:" + port);
        config.setRequestTimeout(30_000);
        config.setConnectionTimeout(10_000);
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    @AfterEach
    void stopApiServer() {
        admin.close();
        api.close();
    }

    /** What kube-controller-manager's token controller does: fills a service-account-token Secret. */
    private CompletableFuture<Void> tokenController() {
        return CompletableFuture.runAsync(() -> {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) {
                Secret s = admin.secrets().inNamespace("meshgate-system").withName("meshgate-reader-token").get();
                if (s != null) {
                    admin.secrets().inNamespace("meshgate-system").withName("meshgate-reader-token").edit(x -> {
                        x.setData(Map.of("token", b64(TOKEN), "ca.crt", b64("-----BEGIN CERTIFICATE-----\n")));
                        return x;
                    });
                    return;
                }
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        });
    }

    @Test
    void createsTheReaderAccountAndPrintsASecretWhoseKubeconfigWorksOnItsOwn() throws Exception {
        admin.services().inNamespace("default").resource(new ServiceBuilder().withNewMetadata().withName("httpbin")
                .withNamespace("default").endMetadata().withNewSpec().addNewPort().withPort(8080).endPort().endSpec().build()).create();
        CompletableFuture<Void> controller = tokenController();

        CliRun.Result r = run("remote-secret", "--kubeconfig", api.writeKubeconfig(dir.resolve("admin.kubeconfig")).toString(),
                "--name", "cluster-b", "--gateway", "203.0.113.9:15443", "--create-service-account");
        controller.get(20, TimeUnit.SECONDS);

        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("plain HTTP");
        Secret secret = new KubernetesSerialization().unmarshal(r.out(), Secret.class);
        assertThat(secret.getMetadata().getNamespace()).isEqualTo("meshgate-system");
        assertThat(secret.getMetadata().getLabels()).containsEntry(RemoteSecrets.LABEL, "true");
        assertThat(secret.getMetadata().getAnnotations()).containsEntry(RemoteSecrets.NAME_ANNOTATION, "cluster-b");
        assertThat(secret.getStringData()).containsEntry("gateway", "203.0.113.9:15443");
        String kubeconfig = secret.getStringData().get("kubeconfig");
        assertThat(kubeconfig).contains("token: " + TOKEN).doesNotContain("token: test", "exec", "tokenFile", "certificate-authority:");

        // The kubeconfig is what the gateway's remote-Secret watcher accepts, and it reads the cluster.
        try (KubernetesClient reader = new KubernetesClientBuilder()
                .withConfig(RemoteClusters.kubeconfig(kubeconfig, "test")).build()) {
            assertThat(reader.services().inNamespace("default").list().getItems()).extracting(s -> s.getMetadata().getName())
                    .containsExactly("httpbin");
        }

        ClusterRole role = admin.rbac().clusterRoles().withName("meshgate-reader-meshgate-system").get();
        assertThat(role.getRules()).flatExtracting(PolicyRule::getVerbs).containsOnly("get", "list", "watch");
        assertThat(role.getRules()).flatExtracting(PolicyRule::getResources)
                .containsExactlyInAnyOrder("services", "endpointslices", "namespaces", "serviceexports");
        Role roots = admin.rbac().roles().inNamespace("meshgate-system").withName("meshgate-reader-roots").get();
        // Exactly get/list/watch on the shipped trust.federation.rootsFrom object, nothing more.
        assertThat(roots.getRules()).singleElement().satisfies(rule -> {
            assertThat(rule.getApiGroups()).containsExactly("");
            assertThat(rule.getResources()).containsExactly("configmaps");
            assertThat(rule.getNonResourceURLs()).isNullOrEmpty();
            assertThat(rule.getResourceNames()).containsExactly("meshgate-root");
            assertThat(rule.getVerbs()).containsExactlyInAnyOrder("get", "list", "watch");
        });
        assertThat(admin.serviceAccounts().inNamespace("meshgate-system").withName("meshgate-reader").get()).isNotNull();
        assertThat(admin.rbac().clusterRoleBindings().withName("meshgate-reader-meshgate-system").get().getSubjects())
                .singleElement().satisfies(s -> assertThat(s.getName()).isEqualTo("meshgate-reader"));

        // Run again: the existing token is kept (replacing its Secret would revoke what the other cluster holds).
        CliRun.Result again = run("remote-secret", "--kubeconfig", dir.resolve("admin.kubeconfig").toString(), "--name", "cluster-b",
                "--create-service-account");
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.out()).contains(TOKEN);
    }

    @Test
    void withoutCreateServiceAccountAMissingTokenSecretExitsTwoWithTheFix() {
        CliRun.Result r = run("remote-secret", "--kubeconfig", api.writeKubeconfig(dir.resolve("admin.kubeconfig")).toString(),
                "--name", "cluster-b");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("meshgate-system/meshgate-reader", "--create-service-account").doesNotContain("\tat ");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void execPluginsAreRefusedAndNeverRun() throws Exception {
        Path ran = dir.resolve("plugin-ran");
        Path plugin = dir.resolve("plugin.sh");
        Files.writeString(plugin, "#!/bin/sh\ntouch " + ran + "\necho '{\"kind\":\"ExecCredential\"}'\n");
        plugin.toFile().setExecutable(true);
        Path kubeconfig = dir.resolve("eks.kubeconfig");
        Files.writeString(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters: [{name: eks, cluster: {server: "http://127.0.0.1:%d"}}]
                contexts: [{name: eks, context: {cluster: eks, user: eks}}]
                current-context: eks
                users: [{name: eks, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: "%s"}}}]
                """.formatted(api.port(), plugin));

        CliRun.Result r = run("remote-secret", "--kubeconfig", kubeconfig.toString(), "--name", "cluster-b", "--create-service-account");

        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("users[eks].user.exec", "not run").doesNotContain("\tat ", plugin.toString());
        assertThat(r.out()).isEmpty();
        assertThat(ran).as("the plugin was never started").doesNotExist();
        assertThat(admin.serviceAccounts().inNamespace("meshgate-system").list().getItems()).as("nothing created").isEmpty();
    }

    @Test
    void authProvidersAndFilePathsAreRefusedNamingTheKey() throws Exception {
        Map<String, String> cases = Map.of(
                "clusters[c].cluster.certificate-authority", "cluster: {server: \"https://10.0.0.1:6443\", certificate-authority: /home/me/.minikube/ca.crt}\nuser: {token: t}",
                "clusters[c].cluster.insecure-skip-tls-verify", "cluster: {server: \"https://10.0.0.1:6443\", insecure-skip-tls-verify: true}\nuser: {token: t}",
                "users[u].user.auth-provider", "cluster: {server: \"https://10.0.0.1:6443\"}\nuser: {auth-provider: {name: gcp}}",
                "users[u].user.client-certificate", "cluster: {server: \"https://10.0.0.1:6443\"}\nuser: {client-certificate: /etc/c.pem, client-key: /etc/k.pem}",
                "users[u].user.tokenFile", "cluster: {server: \"https://10.0.0.1:6443\"}\nuser: {tokenFile: /var/run/token}");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            String[] parts = c.getValue().split("\n");
            Path kubeconfig = dir.resolve("case.kubeconfig");
            Files.writeString(kubeconfig, """
                    apiVersion: v1
                    kind: Config
                    clusters: [{name: c, %s}]
                    users: [{name: u, %s}]
                    contexts: [{name: x, context: {cluster: c, user: u}}]
                    current-context: x
                    """.formatted(parts[0], parts[1]));

            CliRun.Result r = run("remote-secret", "--kubeconfig", kubeconfig.toString(), "--name", "cluster-b");

            assertThat(r.code()).as(c.getKey()).isEqualTo(2);
            assertThat(r.err()).as(c.getKey()).contains(c.getKey()).doesNotContain("\tat ", "/home/me", "/etc/k.pem", "/var/run/token");
            assertThat(r.out()).as(c.getKey()).isEmpty();
        }
    }

    @Test
    void theWrongFileIsNeverEchoed() throws Exception {
        Path ca = dir.resolve("ca");
        assertThat(run("pki", "init-cluster", "--name", "a", "--trust-domain", "cluster.local", "--out", ca.toString()).code()).isZero();
        Path key = ca.resolve("root-key.pem");
        List<String> secretLines = Files.readAllLines(key).stream()
                .filter(l -> !l.startsWith("-----")).toList();
        Path garbage = dir.resolve("garbage.yaml");
        Files.writeString(garbage, "apiVersion: v1\nkind: Config\nclusters: [{name: \"SECRET-VALUE-1\n");

        for (Path wrong : List.of(key, garbage, ca.resolve("root-cert.pem"))) {
            CliRun.Result r = run("remote-secret", "--kubeconfig", wrong.toString(), "--name", "cluster-b");

            assertThat(r.code()).as(wrong.toString()).isEqualTo(2);
            assertThat(r.err()).as(wrong.toString()).contains("not a kubeconfig").doesNotContain("SECRET-VALUE", "\tat ");
            for (String line : secretLines) {
                assertThat(r.err()).as("the key's content").doesNotContain(line);
            }
            assertThat(r.out()).isEmpty();
        }
    }

    @Test
    void anUnreachableApiServerExitsOneNamingIt() throws Exception {
        int port = api.port();
        Path kubeconfig = api.writeKubeconfig(dir.resolve("admin.kubeconfig"));
        admin.close();
        api.close();

        CliRun.Result r = run("remote-secret", "--kubeconfig", kubeconfig.toString(), "--name", "cluster-b");

        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("API server http://127.0.0.1:" + port).doesNotContain("\tat ");
        api = MockApiServer.start();
        admin = adminClient(api.port());
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }
}
