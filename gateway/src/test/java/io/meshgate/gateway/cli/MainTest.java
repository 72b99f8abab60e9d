package io.meshgate.gateway.cli;

import static io.meshgate.gateway.cli.CliRun.run;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The CLI's exit codes and messages (README "CLI": 0 ok, 2 usage/config with the key named, 1 otherwise). */
class MainTest {

    @TempDir
    Path dir;

    /** The production Netty defaults apply where the command line set nothing, and a {@code -D} wins. */
    @Test
    void nettyDefaultsLeaveWhatTheCommandLineSet() {
        String[] keys = {"io.netty.allocator.type", "io.netty.trackPinnedMemory"};
        java.util.Map<String, String> saved = new java.util.HashMap<>();
        for (String k : keys) {
            saved.put(k, System.getProperty(k));
        }
        try {
            System.clearProperty("io.netty.trackPinnedMemory");
            System.setProperty("io.netty.allocator.type", "adaptive");
            Main.nettyDefaults();
            assertThat(System.getProperty("io.netty.trackPinnedMemory")).isEqualTo("false");
            assertThat(System.getProperty("io.netty.allocator.type")).isEqualTo("adaptive");
        } finally {
            saved.forEach((k, v) -> {
                if (v == null) {
                    System.clearProperty(k);
                } else {
                    System.setProperty(k, v);
                }
            });
        }
    }

    @Test
    void versionPrintsOneLine() {
        CliRun.Result r = run("version");
        assertThat(r.code()).isZero();
        assertThat(r.out().strip()).startsWith("meshgate ").doesNotContain("\n");
    }

    @Test
    void everyCommandHasHelp() {
        for (String[] cmd : new String[][] {{"--help"}, {"run", "--help"}, {"version", "--help"}, {"pki", "--help"},
                {"pki", "init-cluster", "--help"}, {"pki", "issue", "--help"}, {"pki", "bundle", "--help"},
                {"check", "--help"}, {"remote-secret", "--help"}}) {
            CliRun.Result r = run(cmd);
            assertThat(r.code()).as(String.join(" ", cmd)).isZero();
            assertThat(r.out()).contains("Usage:");
        }
    }

    @Test
    void everyCommandsVersionFlagPrintsTheVersion() {
        String version = run("version").out().strip();
        forEachCommand(Main.commandLine(), path -> {
            CliRun.Result r = run(append(path, "-V"));
            assertThat(r.code()).as(String.join(" ", path) + " -V").isZero();
            assertThat(r.out().strip()).as(String.join(" ", path) + " -V").isEqualTo(version);
        });
    }

    @Test
    void helpNeverBreaksAFileNameOrSpiffeIdAcrossLines() {
        forEachCommand(Main.commandLine(), path -> {
            String help = run(append(path, "--help")).out();
            picocli.CommandLine cl = Main.commandLine();
            for (String p : path) {
                cl = cl.getSubcommands().get(p);
            }
            for (picocli.CommandLine.Model.OptionSpec option : cl.getCommandSpec().options()) {
                for (String line : option.description()) {
                    for (String token : line.split("\\s+")) {
                        String word = token.replaceAll("^[(\\[]+|[),.;:\\]]+$", "");
                        if (word.matches(".*[./].*[A-Za-z0-9].*") && !word.contains("$")) {
                            assertThat(help).as("%s --help keeps '%s' on one line", String.join(" ", path), word).contains(word);
                        }
                    }
                }
            }
        });
    }

    private static void forEachCommand(picocli.CommandLine cl, java.util.function.Consumer<String[]> check) {
        forEachCommand(cl, new String[0], check);
    }

    private static void forEachCommand(picocli.CommandLine cl, String[] path, java.util.function.Consumer<String[]> check) {
        for (var e : cl.getSubcommands().entrySet()) {
            if (e.getKey().equals("help")) {
                continue;
            }
            String[] sub = append(path, e.getKey());
            check.accept(sub);
            forEachCommand(e.getValue(), sub, check);
        }
    }

    private static String[] append(String[] path, String arg) {
        String[] out = java.util.Arrays.copyOf(path, path.length + 1);
        out[path.length] = arg;
        return out;
    }

    @Test
    void configMistakesExitTwoNamingTheKey() throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, "listeners:\n  - name: a\n    address: 127.0.0.1:0\n    bogus: 1\n");
        CliRun.Result r = run("run", "--config", f.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("bad.yaml").contains("'bogus'").doesNotContain("\tat ");
    }

    @Test
    void servingChainWithOnlyTheLeafExitsTwoNamingTheFile() throws Exception {
        io.meshgate.gateway.testing.MeshPki pki = new io.meshgate.gateway.testing.MeshPki();
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        Files.writeString(dir.resolve("gateway-chain.pem"), io.meshgate.tls.Pem.encode(pki.gateway.leaf()));
        Path f = dir.resolve("leaf-only.yaml");
        Files.writeString(f, io.meshgate.gateway.testing.TestConfig.terminate(dir, "tcp", "mtls", "127.0.0.1:1").yaml());
        CliRun.Result r = run("run", "--config", f.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("gateway-chain.pem", "missing_intermediate").doesNotContain("\tat ");
    }

    @Test
    void aBadAllowedIdentityExitsTwoNamingTheKey() throws Exception {
        io.meshgate.gateway.testing.MeshPki pki = new io.meshgate.gateway.testing.MeshPki();
        pki.writeGatewayFiles(dir, pki.clusterA);
        Path f = dir.resolve("identities.yaml");
        Files.writeString(f, io.meshgate.gateway.testing.TestConfig.terminate(dir, "tcp", "mtls", "127.0.0.1:1")
                .merge("tls: {allowedIdentities: ['spiffe://cluster.local/*/sa/sleep']}").yaml());
        CliRun.Result r = run("run", "--config", f.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("tls.allowedIdentities[0]", "'*' is allowed only at the end").doesNotContain("\tat ");
    }

    @Test
    void aNegativeWarmupCountExitsTwoNamingTheKey() throws Exception {
        Path f = dir.resolve("warmup.yaml");
        Files.writeString(f, "listeners:\n  - name: a\n    address: 127.0.0.1:0\n    mode: passthrough\n"
                + "runtime:\n  warmupConnections: -5\n");
        CliRun.Result r = run("run", "--config", f.toString());
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.err()).contains("runtime.warmupConnections", "must not be negative").doesNotContain("\tat ");
    }

    @Test
    void missingConfigFileExitsTwo() {
        CliRun.Result r = run("run", "--config", dir.resolve("nope.yaml").toString());
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
    void anAddressInUseExitsOneWithAMessage() throws Exception {
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Path f = dir.resolve("m.yaml");
            Files.writeString(f, "listeners:\n  - name: a\n    address: 127.0.0.1:" + taken.getLocalPort()
                    + "\nadmin: {address: 127.0.0.1:0}\n");
            CliRun.Result r = run("run", "--config", f.toString());
            assertThat(r.code()).isEqualTo(1);
            assertThat(r.err()).contains("listeners[0] 'a'", "127.0.0.1:" + taken.getLocalPort()).doesNotContain("\tat ");
        }
    }
}
