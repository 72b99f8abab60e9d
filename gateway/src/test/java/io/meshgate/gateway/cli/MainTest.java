package io.meshgate.gateway.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's exit codes and messages (CONTRACT: 0 ok, 2 usage/config with the key named, 1 otherwise). */
class MainTest {

    @TempDir
    Path dir;

    private record Result(int code, String out, String err) {}

    private static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void versionPrintsOneLine() {
        Result r = run("version");
        assertThat(r.code()).isZero();
        assertThat(r.out().strip()).startsWith("meshgate ").doesNotContain("\n");
    }

    @Test
    void everyCommandHasHelp() {
        for (String[] cmd : new String[][] {{"--help"}, {"run", "--help"}, {"version", "--help"}, {"pki", "--help"},
                {"pki", "init-cluster", "--help"}, {"pki", "issue", "--help"}, {"pki", "bundle", "--help"}}) {
            Result r = run(cmd);
            assertThat(r.code()).as(String.join(" ", cmd)).isZero();
            assertThat(r.out()).contains("Usage:");
        }
    }

    @Test
    void configMistakesExitTwoNamingTheKey() throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, "listeners:\n  - name: a\n    address: 127.0.0.1:0\n    bogus: 1\n");
        Result r = run("run", "--config", f.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("bad.yaml").contains("'bogus'").doesNotContain("\tat ");
    }

    @Test
    void servingChainWithOnlyTheLeafExitsTwoNamingTheFile() throws Exception {
        io.meshgate.gateway.testing.MeshPki pki = new io.meshgate.gateway.testing.MeshPki();
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        Files.writeString(dir.resolve("gateway-chain.pem"), io.meshgate.tls.Pem.encode(pki.gateway.leaf()));
        Path f = dir.resolve("leaf-only.yaml");
        Files.writeString(f, io.meshgate.gateway.testing.MeshPki.terminateConfig(dir, "tcp", "mtls", "127.0.0.1:1", ""));
        Result r = run("run", "--config", f.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("gateway-chain.pem", "missing_intermediate").doesNotContain("\tat ");
    }

    @Test
    void missingConfigFileExitsTwo() {
        Result r = run("run", "--config", dir.resolve("nope.yaml").toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("nope.yaml");
    }

    @Test
    void usageMistakesExitTwo() {
        assertThat(run("run").code()).isEqualTo(2);
        assertThat(run("frobnicate").code()).isEqualTo(2);
        assertThat(run().code()).isEqualTo(2);
    }

    @Test
    void remoteSecretPrintsALabelledSecretWithTheKubeconfig() throws Exception {
        Path kubeconfig = dir.resolve("b.kubeconfig");
        Files.writeString(kubeconfig, """
                apiVersion: v1
                kind: Config
                clusters: [{name: b, cluster: {server: "https://203.0.113.5:6443"}}]
                contexts: [{name: b, context: {cluster: b, user: r}}]
                current-context: b
                users: [{name: r, user: {token: abc}}]
                """);
        Result r = run("remote-secret", "--kubeconfig", kubeconfig.toString(), "--name", "cluster-b", "--gateway", "203.0.113.9:15443");
        assertThat(r.code()).isZero();
        assertThat(r.out()).contains("kind: Secret").contains("namespace: meshgate-system")
                .contains("meshgate.io/remote-cluster: \"true\"").contains("meshgate.io/cluster-name: cluster-b")
                .contains("gateway: \"203.0.113.9:15443\"").contains("https://203.0.113.5:6443");
        // What it prints is a Secret the gateway's watcher accepts.
        var secret = io.fabric8.kubernetes.client.utils.Serialization.unmarshal(r.out(), io.fabric8.kubernetes.api.model.Secret.class);
        assertThat(secret.getStringData().get("kubeconfig")).isEqualTo(Files.readString(kubeconfig));

        assertThat(run("remote-secret", "--kubeconfig", dir.resolve("missing").toString(), "--name", "b").code()).isEqualTo(2);
        assertThat(run("remote-secret", "--kubeconfig", kubeconfig.toString(), "--name", "Bad_Name").code()).isEqualTo(2);
    }

    @Test
    void anAddressInUseExitsOneWithAMessage() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Path f = dir.resolve("m.yaml");
            Files.writeString(f, "listeners:\n  - name: a\n    address: 127.0.0.1:" + taken.getLocalPort()
                    + "\nadmin: {address: 127.0.0.1:0}\n");
            Result r = run("run", "--config", f.toString());
            assertThat(r.code()).isEqualTo(1);
            assertThat(r.err()).contains("bind").doesNotContain("\tat ");
        }
    }
}
