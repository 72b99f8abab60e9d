package io.meshgate.gateway.interop;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.testing.MeshBackend;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.gateway.testing.TlsPeers;
import io.meshgate.tls.BundleTrustManager;
import io.meshgate.tls.PeerRole;
import io.meshgate.tls.PeerVerifier;
import io.meshgate.tls.Pem;
import io.meshgate.tls.SpiffeId;
import io.meshgate.tls.TlsMaterial;
import io.meshgate.tls.TrustBundle;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.pki.KeyType;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real TLS stacks as callers of the mesh: curl, {@code openssl s_client}, {@code gnutls-cli},
 * Python {@code ssl}, Node {@code tls} and Go {@code crypto/tls}, each over TLS 1.2 and 1.3, with
 * an EC chain, an RSA chain, a chain that repeats its leaf and a chain with an extra unrelated
 * certificate: through the terminate listener (the HTTP upstream must see the caller in XFCC) and
 * through the passthrough listener to a pod that terminates mTLS itself (BoringSSL with meshgate's
 * verifier), which must see the caller's SPIFFE ID.
 */
@Timeout(900)
class InteropMatrixTest {

    static final String TERMINATE = "eastwest-mtls";
    static final String PASSTHROUGH = "eastwest";
    static final String TERMINATE_SNI = "outbound_.8080_._." + TlsPeers.HOST;
    static final String PASSTHROUGH_SNI = "outbound_.8443_._." + TlsPeers.HOST;

    @TempDir
    static Path dir;

    static MeshPki pki;
    static ClusterCa rsa;
    static ClusterCa unrelated;
    static MeshBackend upstream;
    static MeshBackend pod;
    static RunningGateway gateway;
    static Path goClient;
    static final AtomicInteger passed = new AtomicInteger();
    static final AtomicInteger total = new AtomicInteger();

    enum Tool { CURL, OPENSSL, GNUTLS, PYTHON, NODE, GO }

    enum Chain { EC, RSA, DUPLICATE_LEAF, EXTRA_CERT }

    enum Mode { TERMINATE, PASSTHROUGH }

    @BeforeAll
    static void start() throws Exception {
        Tools.require("curl", "openssl", "gnutls-cli", "python3", "node");
        goClient = Tools.goBuild("client.go", dir);
        pki = new MeshPki();
        rsa = ClusterCa.create("cluster-r", "cluster.local", Instant.now(), KeyType.RSA_2048);
        unrelated = ClusterCa.create("cluster-u", "cluster.local", Instant.now());
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        Files.writeString(dir.resolve("bundle.pem"), Pem.encode(pki.clusterA.rootCert(), pki.clusterB.rootCert(), rsa.rootCert()));
        upstream = new MeshBackend(MeshBackend.App.HTTP, null);
        TrustBundle podBundle = TrustBundle.of(null, List.of(pki.clusterA.rootCert(), pki.clusterB.rootCert(), rsa.rootCert()),
                Instant.now());
        pod = new MeshBackend(MeshBackend.App.HTTP, TlsMaterial.serverContext(pki.backend.chain(), pki.backend.key(),
                new PeerVerifier(() -> podBundle, Set.of(), PeerRole.CLIENT)));
        gateway = RunningGateway.start(dir, TestConfig.gateway()
                .listener(TERMINATE, "terminate").listener(PASSTHROUGH, "passthrough")
                .staticService(TlsPeers.HOST, 8080, "http", upstream.endpoint())
                .staticService(TlsPeers.HOST, 8443, "tcp", pod.endpoint())
                .tls(dir, "plaintext"));
    }

    @AfterAll
    static void stop() throws Exception {
        System.out.println("interop matrix: " + passed.get() + "/" + total.get() + " callers reached their upstream with their identity");
        if (gateway != null) {
            gateway.close();
        }
        if (upstream != null) {
            upstream.close();
        }
        if (pod != null) {
            pod.close();
        }
    }

    /** The caller's files: {@code full} as sent (leaf first), {@code rest} = everything after the leaf, and the key. */
    record Caller(String id, Path full, Path rest, Path key) {}

    static Caller caller(Tool tool, Chain chain, String version, Mode mode) throws Exception {
        String id = "spiffe://cluster.local/ns/interop/sa/" + (tool + "-" + chain + "-" + version.replace(".", "") + "-" + mode)
                .toLowerCase().replace('_', '-');
        IssuedIdentity issued = switch (chain) {
            case RSA -> rsa.issue(SpiffeId.parse(id), List.of(), Duration.ofDays(1), Instant.now(), KeyType.RSA_2048);
            default -> pki.clusterB.issue(SpiffeId.parse(id), List.of(), Duration.ofDays(1), Instant.now());
        };
        List<X509Certificate> sent = new ArrayList<>(issued.chain());
        if (chain == Chain.DUPLICATE_LEAF) {
            sent.add(1, issued.leaf());
        } else if (chain == Chain.EXTRA_CERT) {
            sent.add(1, unrelated.caCert());
        }
        Path base = Files.createDirectories(dir.resolve(id.substring(id.lastIndexOf('/') + 1)));
        Path full = Files.writeString(base.resolve("full.pem"), Pem.encode(sent));
        Path rest = Files.writeString(base.resolve("rest.pem"), Pem.encode(sent.subList(1, sent.size())));
        Path key = Files.writeString(base.resolve("key.pem"), Pem.encode(issued.key()));
        return new Caller(id, full, rest, key);
    }

    static Tools.Run call(Tool tool, Caller c, String version, InetSocketAddress to, String sni) throws Exception {
        String host = "127.0.0.1";
        String port = String.valueOf(to.getPort());
        String request = "GET /interop HTTP/1.1\r\nHost: " + sni + "\r\nConnection: close\r\n\r\n";
        return switch (tool) {
            case CURL -> Tools.run(List.of("curl", "-sS", "-i", "--http1.1", "--max-time", "20", "-k",
                    "--cert", c.full().toString(), "--key", c.key().toString(),
                    version.equals("1.2") ? "--tlsv1.2" : "--tlsv1.3", "--tls-max", version,
                    "--resolve", sni + ":" + port + ":" + host, "https://" + sni + ":" + port + "/interop"), null, 30);
            case OPENSSL -> Tools.run(List.of("openssl", "s_client", "-connect", host + ":" + port, "-servername", sni,
                    "-cert", c.full().toString(), "-cert_chain", c.rest().toString(), "-key", c.key().toString(),
                    version.equals("1.2") ? "-tls1_2" : "-tls1_3", "-quiet"), request, 30);
            case GNUTLS -> Tools.run(List.of("gnutls-cli", "--insecure", "--port", port, "--sni-hostname", sni,
                    "--x509certfile", c.full().toString(), "--x509keyfile", c.key().toString(),
                    "--priority", "NORMAL:-VERS-ALL:+VERS-TLS" + version, host), request, 30);
            case PYTHON -> Tools.run(List.of("python3", Tools.resource("client.py", dir).toString(), host, port, sni,
                    c.full().toString(), c.key().toString(), version), null, 30);
            case NODE -> Tools.run(List.of("node", Tools.resource("client.js", dir).toString(), host, port, sni,
                    c.full().toString(), c.key().toString(), version), null, 30);
            case GO -> Tools.run(List.of(goClient.toString(), host, port, sni, c.full().toString(), c.key().toString(), version),
                    null, 30);
        };
    }

    @TestFactory
    Stream<DynamicTest> everyCallerReachesItsUpstreamWithItsIdentity() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Mode mode : Mode.values()) {
            for (Tool tool : Tool.values()) {
                for (Chain chain : Chain.values()) {
                    for (String version : List.of("1.3", "1.2")) {
                        tests.add(DynamicTest.dynamicTest(mode + " " + tool + " " + chain + " TLS" + version, () -> {
                            total.incrementAndGet();
                            one(mode, tool, chain, version);
                            passed.incrementAndGet();
                        }));
                    }
                }
            }
        }
        return tests.stream();
    }

    /** A refused caller, as openssl s_client reports the alert it received. */
    static String refusedAlert(IssuedIdentity who, List<X509Certificate> sent, String version, String... options) throws Exception {
        Path base = Files.createTempDirectory(dir, "refused");
        List<String> command = new ArrayList<>(List.of("openssl", "s_client", "-connect",
                "127.0.0.1:" + gateway.address(TERMINATE).getPort(), "-servername", TERMINATE_SNI,
                version.equals("1.2") ? "-tls1_2" : "-tls1_3", "-quiet"));
        command.addAll(List.of(options));
        if (who != null) {
            command.addAll(List.of("-cert", Files.writeString(base.resolve("leaf.pem"), Pem.encode(sent.get(0))).toString(),
                    "-key", Files.writeString(base.resolve("key.pem"), Pem.encode(who.key())).toString()));
            if (sent.size() > 1) {
                command.addAll(List.of("-cert_chain",
                        Files.writeString(base.resolve("rest.pem"), Pem.encode(sent.subList(1, sent.size()))).toString()));
            }
        }
        Tools.Run run = Tools.run(command, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 30);
        assertThat(run.out()).as(run.describe()).doesNotContain("HTTP/1.1 200");
        return run.err();
    }

    @org.junit.jupiter.api.Test
    void refusedCallersReceiveTheAlertThatNamesTheProblem() throws Exception {
        ClusterCa foreign = ClusterCa.create("cluster-f", "other.example", Instant.now());
        trust(foreign);
        IssuedIdentity rogue = MeshPki.issue(pki.rogue, MeshPki.CALLER_ID);
        IssuedIdentity b = MeshPki.issue(pki.clusterB, MeshPki.CALLER_ID);
        IssuedIdentity old = MeshPki.issue(pki.clusterB, MeshPki.CALLER_ID, Instant.now().minus(Duration.ofDays(10)), Duration.ofDays(1));
        IssuedIdentity other = MeshPki.issue(foreign, "spiffe://other.example/ns/default/sa/sleep");
        double missingIntermediate = gateway.counter("meshgate.peer.refusals", "listener", TERMINATE, "reason", "missing_intermediate");
        double trustDomain = gateway.counter("meshgate.peer.refusals", "listener", TERMINATE, "reason", "trust_domain_not_allowed");
        for (String v : List.of("1.3", "1.2")) {
            assertThat(refusedAlert(rogue, rogue.chain(), v)).as("TLS" + v).contains("alert unknown ca");
            assertThat(refusedAlert(b, List.of(b.leaf()), v)).as("TLS" + v).contains("alert unknown ca");
            assertThat(refusedAlert(old, old.chain(), v)).as("TLS" + v).contains("alert certificate expired");
        }
        assertThat(refusedAlert(null, null, "1.3")).contains("alert certificate required");
        assertThat(refusedAlert(null, null, "1.2")).contains("alert handshake failure");
        assertThat(refusedAlert(other, other.chain(), "1.2")).contains("alert access denied");
        assertThat(refusedAlert(other, other.chain(), "1.3")).contains("alert access denied");
        // TLS 1.3: the sealed alert is re-sealed under each AEAD the gateway negotiates.
        for (String suite : List.of("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256")) {
            assertThat(refusedAlert(other, other.chain(), "1.3", "-ciphersuites", suite)).as(suite).contains("alert access denied");
        }
        assertThat(gateway.counter("meshgate.peer.refusals", "listener", TERMINATE, "reason", "missing_intermediate"))
                .isEqualTo(missingIntermediate + 2);
        assertThat(gateway.counter("meshgate.peer.refusals", "listener", TERMINATE, "reason", "trust_domain_not_allowed"))
                .isEqualTo(trustDomain + 5);
        // The caller reports the alert before the gateway has closed its side (which drops the watch).
        org.awaitility.Awaitility.await("no TLS 1.3 secret outlives its handshake").atMost(java.time.Duration.ofSeconds(10))
                .until(() -> gateway.gateway().tls().orElseThrow().current().serverTrafficSecrets().watching() == 0);
    }

    /** What each TLS stack says when it receives access_denied (49). */
    static String accessDenied(Tool tool) {
        return switch (tool) {
            case OPENSSL, CURL, PYTHON, NODE -> "alert access denied"; // OpenSSL's words
            case GNUTLS -> "Received alert [49]";
            case GO -> "remote error: tls: access denied";
        };
    }

    @TestFactory
    Stream<DynamicTest> everyCallerOfAForeignTrustDomainReceivesAccessDenied() throws Exception {
        ClusterCa foreign = ClusterCa.create("cluster-g", "foreign.example", Instant.now());
        List<DynamicTest> tests = new ArrayList<>();
        for (Tool tool : Tool.values()) {
            for (String version : List.of("1.3", "1.2")) {
                tests.add(DynamicTest.dynamicTest(tool + " TLS" + version, () -> {
                    trust(foreign);
                    IssuedIdentity other = MeshPki.issue(foreign, "spiffe://foreign.example/ns/interop/sa/"
                            + (tool + "-" + version.replace(".", "")).toLowerCase());
                    Path base = Files.createTempDirectory(dir, "foreign");
                    Caller c = new Caller(other.leaf().toString(), Files.writeString(base.resolve("full.pem"), Pem.encode(other.chain())),
                            Files.writeString(base.resolve("rest.pem"), Pem.encode(other.chain().subList(1, other.chain().size()))),
                            Files.writeString(base.resolve("key.pem"), Pem.encode(other.key())));
                    double before = gateway.counter("meshgate.peer.refusals", "listener", TERMINATE, "reason", "trust_domain_not_allowed");
                    Tools.Run run = call(tool, c, version, gateway.address(TERMINATE), TERMINATE_SNI);
                    assertThat(run.out()).as(run.describe()).doesNotContain("HTTP/1.1 200");
                    assertThat(run.out() + run.err()).as(run.describe()).contains(accessDenied(tool));
                    org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> gateway.counter("meshgate.peer.refusals",
                            "listener", TERMINATE, "reason", "trust_domain_not_allowed") == before + 1);
                }));
            }
        }
        return tests.stream();
    }

    /** Adds {@code ca}'s root to the gateway's bundle file (once) and waits until new handshakes use it. */
    static synchronized void trust(ClusterCa ca) throws Exception {
        List<X509Certificate> roots = new ArrayList<>(gateway.gateway().tls().orElseThrow().current().bundle().roots().stream()
                .map(r -> r.certificate()).toList());
        if (roots.contains(ca.rootCert())) {
            return;
        }
        roots.add(ca.rootCert());
        Files.writeString(dir.resolve("bundle.pem"), Pem.encode(roots));
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> gateway.gateway().tls().orElseThrow().current()
                .bundle().roots().stream().anyMatch(r -> r.certificate().equals(ca.rootCert())));
    }

    static void one(Mode mode, Tool tool, Chain chain, String version) throws Exception {
        Caller c = caller(tool, chain, version, mode);
        boolean terminate = mode == Mode.TERMINATE;
        Tools.Run run = call(tool, c, version, gateway.address(terminate ? TERMINATE : PASSTHROUGH),
                terminate ? TERMINATE_SNI : PASSTHROUGH_SNI);
        assertThat(run.out()).as(run.describe()).contains("HTTP/1.1 200").contains("ok");
        if (terminate) {
            List<String> xfcc = upstream.requests().stream().map(h -> h.get("x-forwarded-client-cert")).toList();
            assertThat(xfcc).as(run.describe()).anySatisfy(v -> assertThat(v).contains("URI=" + c.id())
                    .startsWith("By=" + MeshPki.GATEWAY_ID));
        } else {
            assertThat(pod.peers().stream().map(p -> p.spiffeId().toString())).as(run.describe()).contains(c.id());
        }
    }
}
