package io.meshgate.gateway.cli;

import io.meshgate.routing.OutboundSni;
import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.PeerRole;
import io.meshgate.tls.PeerVerifier;
import io.meshgate.tls.Pem;
import io.meshgate.tls.SpiffeId;
import io.meshgate.tls.TlsFiles;
import io.meshgate.tls.TlsMaterial;
import io.meshgate.tls.TrustBundle;
import io.meshgate.tls.testing.TestPki;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The two-cluster walk-through through the real command: two CAs, a federated bundle, workload
 * and gateway certificates that openssl and meshgate's own verifier accept; mistakes exit 2.
 */
@Timeout(60)
class PkiCommandTest {

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Run pki(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new PkiCommand());
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private Run ok(String... args) {
        Run run = pki(args);
        assertThat(run.code()).as("pki %s: %s", String.join(" ", args), run.err()).isZero();
        return run;
    }

    private static void assertUserMistake(Run run, String message) {
        assertThat(run.code()).isEqualTo(2);
        assertThat(run.err()).contains(message).doesNotContain("\tat ").doesNotContain("Exception");
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }

    @Test
    void twoClusterWalkThroughVerifiesWithOpensslAndMeshgate() throws Exception {
        ok("init-cluster", "--name", "cluster-a", "--trust-domain", "cluster.local", "--out", p("a"));
        ok("init-cluster", "--name", "cluster-b", "--trust-domain", "cluster.local", "--out", p("b"));
        Run bundle = ok("bundle", "--out", p("bundle.pem"), p("a/root-cert.pem"), p("b/root-cert.pem"), p("a/root-cert.pem"));
        assertThat(bundle.out()).contains("wrote 2 root(s)");
        ok("issue", "--ca", p("a"), "--spiffe", "spiffe://cluster.local/ns/istio-system/sa/eastwest",
                "--dns", OutboundSni.format("httpbin.default.svc.cluster.local", 8080), "--out", p("gw"));
        Run issue = ok("issue", "--ca", p("b"), "--spiffe", "spiffe://cluster.local/ns/default/sa/sleep", "--days", "30",
                "--out", p("sleep"));
        assertThat(issue.out()).contains("spiffe://cluster.local/ns/default/sa/sleep");

        for (String workload : List.of("gw", "sleep")) {
            Process openssl = new ProcessBuilder("openssl", "verify", "-CAfile", p("bundle.pem"),
                    "-untrusted", p(workload + "/cert-chain.pem"), p(workload + "/cert.pem")).redirectErrorStream(true).start();
            assertThat(openssl.waitFor(20, TimeUnit.SECONDS)).isTrue();
            String said = new String(openssl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(openssl.exitValue()).as(said).isZero();
            assertThat(said).contains(": OK");
        }

        TrustBundle trust = TrustBundle.load(dir.resolve("bundle.pem"));
        List<X509Certificate> sleepChain = Pem.readCertificates(dir.resolve("sleep/cert-chain.pem"));
        assertThat(sleepChain).hasSize(2);
        assertThat(sleepChain.get(0)).isEqualTo(Pem.readCertificates(dir.resolve("sleep/cert.pem")).get(0));
        assertThat(sleepChain.get(0).getNotAfter().toInstant())
                .isBetween(Instant.now().plus(Duration.ofDays(29)), Instant.now().plus(Duration.ofDays(31)));
        assertThat(new PeerVerifier(() -> trust, Set.of("cluster.local"), PeerRole.CLIENT)
                .verify(sleepChain.toArray(new X509Certificate[0])))
                .isEqualTo(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/sleep"));

        TlsMaterial gateway = TlsMaterial.load(new TlsFiles(dir.resolve("gw/cert-chain.pem"), dir.resolve("gw/key.pem"),
                dir.resolve("bundle.pem")), Set.of("cluster.local"));
        assertThat(gateway.servingId()).hasToString("spiffe://cluster.local/ns/istio-system/sa/eastwest");
        assertThat(gateway.leaf().getSubjectAlternativeNames().stream().map(san -> String.valueOf(san.get(1))).toList())
                .contains(OutboundSni.format("httpbin.default.svc.cluster.local", 8080));
        assertThat(Files.getPosixFilePermissions(dir.resolve("gw/key.pem"))).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(Files.getPosixFilePermissions(dir.resolve("a/root-key.pem"))).isEqualTo(PosixFilePermissions.fromString("rw-------"));
    }

    @Test
    void caFilesFollowIstioPluginLayoutWithExpectedLifetimesAndConstraints() throws Exception {
        ok("init-cluster", "--name", "cluster-a", "--trust-domain", "cluster.local", "--out", p("a"));
        X509Certificate root = Pem.readCertificates(dir.resolve("a/root-cert.pem")).get(0);
        X509Certificate ca = Pem.readCertificates(dir.resolve("a/ca-cert.pem")).get(0);
        assertThat(Pem.readCertificates(dir.resolve("a/cert-chain.pem"))).containsExactly(ca, root);
        assertThat(root.getBasicConstraints()).isEqualTo(Integer.MAX_VALUE);
        assertThat(ca.getBasicConstraints()).isZero();
        assertThat(root.getKeyUsage()[5]).as("keyCertSign").isTrue();
        assertThat(root.getPublicKey().getAlgorithm()).isEqualTo("EC");
        assertThat(Duration.between(Instant.now(), root.getNotAfter().toInstant()).toDays()).isBetween(3648L, 3650L);
        assertThat(Duration.between(Instant.now(), ca.getNotAfter().toInstant()).toDays()).isBetween(1823L, 1825L);
        assertThat(Pem.readPrivateKey(dir.resolve("a/ca-key.pem")).getAlgorithm()).isEqualTo("EC");
        assertThat(Files.readString(dir.resolve("a/ca-key.pem"))).startsWith("-----BEGIN PRIVATE KEY-----");
        ok("issue", "--ca", p("a"), "--spiffe", "spiffe://cluster.local/ns/default/sa/x", "--out", p("x"));
        X509Certificate leaf = Pem.readCertificates(dir.resolve("x/cert.pem")).get(0);
        assertThat(leaf.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(Duration.between(Instant.now(), leaf.getNotAfter().toInstant()).toDays()).isBetween(88L, 90L);
    }

    @Test
    void bundleInSpiffeFormatIsAJwkSetOfEveryRoot() throws Exception {
        ok("init-cluster", "--name", "cluster-a", "--trust-domain", "cluster.local", "--out", dir.resolve("a").toString());
        ok("init-cluster", "--name", "cluster-r", "--trust-domain", "cluster.local", "--out", dir.resolve("r").toString(),
                "--key-type", "rsa-2048");
        Run run = ok("bundle", "--format", "spiffe", "--trust-domain", "cluster.local", "--out", dir.resolve("bundle.json").toString(),
                dir.resolve("a/root-cert.pem").toString(), dir.resolve("r/root-cert.pem").toString());
        assertThat(run.out()).contains("2 root(s)", "SPIFFE bundle for trust domain cluster.local");
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("bundle.json").toFile());
        assertThat(json.get("keys")).hasSize(2);
        assertThat(json.get("keys").get(0).get("kty").asText()).isEqualTo("EC");
        assertThat(json.get("keys").get(1).get("kty").asText()).isEqualTo("RSA");
        assertThat(json.get("keys").get(1).get("use").asText()).isEqualTo("x509-svid");
        assertThat(json.get("spiffe_sequence").asLong()).isPositive();
        assertThat(json.get("spiffe_refresh_hint").asLong()).isEqualTo(300);
        assertThat(pki("bundle", "--format", "jks", "--out", dir.resolve("x").toString(), dir.resolve("a/root-cert.pem").toString())
                .code()).isEqualTo(2);
    }

    @Test
    void userMistakesExitTwoWithOneLineAndNoStackTrace() {
        assertUserMistake(pki("init-cluster", "--trust-domain", "cluster.local", "--out", p("a")), "--name");
        assertUserMistake(pki("init-cluster", "--name", "a", "--trust-domain", "Cluster.Local", "--out", p("a")), "lowercase");
        ok("init-cluster", "--name", "a", "--trust-domain", "cluster.local", "--out", p("a"));
        assertUserMistake(pki("init-cluster", "--name", "a", "--trust-domain", "cluster.local", "--out", p("a")), "--force");
        assertUserMistake(pki("issue", "--ca", p("nope"), "--spiffe", "spiffe://cluster.local/x", "--out", p("x")), "not a directory");
        assertUserMistake(pki("issue", "--ca", p("a"), "--spiffe", "spiffe://cluster.local/x/../y", "--out", p("x")), "'..'");
        assertUserMistake(pki("issue", "--ca", p("a"), "--spiffe", "spiffe://other.example/x", "--out", p("x")),
                "trust domain cluster.local");
        assertUserMistake(pki("issue", "--ca", p("a"), "--spiffe", "spiffe://cluster.local/x", "--days", "4000", "--out", p("x")),
                "outlives the intermediate");
        assertUserMistake(pki("issue", "--ca", p("a"), "--spiffe", "spiffe://cluster.local/x", "--days", "0", "--out", p("x")),
                "--days");
        assertUserMistake(pki("bundle", "--out", p("bundle.pem"), p("a/cert-chain.pem")), "is not a root");
        TestPki.Ca old = TestPki.root("old", Instant.now().minus(Duration.ofDays(9)), Instant.now().minus(Duration.ofDays(1)));
        Path expired = old.writeCert(dir.resolve("old.pem"));
        assertUserMistake(pki("bundle", "--out", p("bundle.pem"), expired.toString()), "expired");
        assertUserMistake(pki("bundle", "--out", p("bundle.pem"), p("missing.pem")), "no such file");
        assertUserMistake(pki("bundle", "--out", p("bundle.pem")), "ROOT.pem");
        assertThat(Files.exists(dir.resolve("bundle.pem"))).isFalse();
        assertThat(pki().code()).isEqualTo(2);
    }

    @Test
    void everyCommandHasHelp() {
        for (String sub : List.of("init-cluster", "issue", "bundle")) {
            Run run = pki(sub, "--help");
            assertThat(run.code()).isZero();
            assertThat(run.out()).contains("Usage:").contains("--out");
        }
        assertThat(pki("--help").out()).contains("init-cluster").contains("issue").contains("bundle");
    }
}
