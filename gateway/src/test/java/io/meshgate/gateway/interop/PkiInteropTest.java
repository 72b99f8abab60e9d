package io.meshgate.gateway.interop;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every file {@code meshgate pki} writes, of both key types, read by the tools of the mesh's other
 * members: openssl, GnuTLS certtool, keytool, Python {@code ssl}, Go (x509 + tls.LoadX509KeyPair)
 * and Node {@code crypto}. Keys are loaded together with their certificate where the tool can.
 */
@Timeout(600)
class PkiInteropTest {

    @TempDir
    Path dir;

    static final String PYTHON = """
            import ssl, sys
            certs, pairs = sys.argv[1].split(","), sys.argv[2].split(",")
            for c in certs:
                ssl.create_default_context(cafile=c)
            for p in pairs:
                key, cert = p.split(":")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.load_cert_chain(cert, key)
            print("python ok", len(certs), len(pairs))
            """;

    static final String NODE = """
            const fs = require('fs'); const crypto = require('crypto');
            const [certs, pairs] = process.argv.slice(1);
            for (const c of certs.split(',')) new crypto.X509Certificate(fs.readFileSync(c));
            for (const p of pairs.split(',')) {
              const [key, cert] = p.split(':');
              const k = crypto.createPrivateKey(fs.readFileSync(key));
              if (!new crypto.X509Certificate(fs.readFileSync(cert)).checkPrivateKey(k)) throw new Error(key + ' does not match ' + cert);
            }
            console.log('node ok');
            """;

    private static void cli(String... args) {
        StringWriter err = new StringWriter();
        var cl = Main.commandLine();
        cl.setOut(new PrintWriter(new StringWriter(), true));
        cl.setErr(new PrintWriter(err, true));
        assertThat(cl.execute(args)).as(String.join(" ", args) + ": " + err).isZero();
    }

    private static void ok(Tools.Run run) {
        assertThat(run.exit()).as(run.describe()).isZero();
    }

    @ParameterizedTest
    @ValueSource(strings = {"ec-p256", "rsa-2048"})
    void everyPkiFileLoadsEverywhere(String keyType) throws Exception {
        Tools.require("openssl", "certtool", "keytool", "python3", "node");
        Path ca = dir.resolve("ca");
        Path other = dir.resolve("other");
        Path leaf = dir.resolve("leaf");
        cli("pki", "init-cluster", "--name", "cluster-a", "--trust-domain", "cluster.local", "--out", ca.toString(), "--key-type", keyType);
        cli("pki", "init-cluster", "--name", "cluster-b", "--trust-domain", "cluster.local", "--out", other.toString());
        cli("pki", "issue", "--ca", ca.toString(), "--spiffe", "spiffe://cluster.local/ns/default/sa/sleep", "--dns", "sleep.default.svc",
                "--out", leaf.toString(), "--key-type", keyType);
        Path bundle = dir.resolve("bundle.pem");
        cli("pki", "bundle", "--out", bundle.toString(), ca.resolve("root-cert.pem").toString(), other.resolve("root-cert.pem").toString());

        List<Path> certs = List.of(ca.resolve("root-cert.pem"), ca.resolve("ca-cert.pem"), ca.resolve("cert-chain.pem"),
                leaf.resolve("cert.pem"), leaf.resolve("cert-chain.pem"), bundle);
        List<Path[]> pairs = List.of(new Path[] {ca.resolve("root-key.pem"), ca.resolve("root-cert.pem")},
                new Path[] {ca.resolve("ca-key.pem"), ca.resolve("ca-cert.pem")},
                new Path[] {leaf.resolve("key.pem"), leaf.resolve("cert.pem")});

        for (Path c : certs) {
            ok(Tools.run(List.of("openssl", "storeutl", "-noout", "-certs", c.toString()), null, 30));
            ok(Tools.run(List.of("certtool", "--certificate-info", "--infile", c.toString()), null, 30));
            ok(Tools.run(List.of("keytool", "-printcert", "-file", c.toString()), null, 60));
        }
        ok(Tools.run(List.of("openssl", "verify", "-CAfile", bundle.toString(), "-untrusted", ca.resolve("ca-cert.pem").toString(),
                leaf.resolve("cert.pem").toString()), null, 30));
        for (Path[] p : pairs) {
            ok(Tools.run(List.of("openssl", "pkey", "-in", p[0].toString(), "-noout"), null, 30));
            ok(Tools.run(List.of("bash", "-c", "diff <(openssl pkey -in '" + p[0] + "' -pubout) <(openssl x509 -in '" + p[1]
                    + "' -noout -pubkey)"), null, 30));
            ok(Tools.run(List.of("certtool", "-k", "--infile", p[0].toString()), null, 30));
        }
        String certList = String.join(",", certs.stream().map(Path::toString).toList());
        String pairList = String.join(",", pairs.stream().map(p -> p[0] + ":" + p[1]).toList());
        ok(Tools.run(List.of("python3", "-c", PYTHON, certList, pairList), null, 60));
        ok(Tools.run(List.of("node", "-e", NODE, certList, pairList), null, 60));

        Path reader = Tools.goBuild("pki-read.go", dir);
        List<String> go = new ArrayList<>(List.of(reader.toString()));
        certs.forEach(c -> go.add(c.toString()));
        go.add("--");
        pairs.forEach(p -> go.add(p[0] + ":" + p[1]));
        Tools.Run goRun = Tools.run(go, null, 60);
        ok(goRun);
        assertThat(goRun.out()).doesNotContain("FAIL");
    }
}
