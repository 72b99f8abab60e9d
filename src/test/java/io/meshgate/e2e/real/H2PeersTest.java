package io.meshgate.e2e.real;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * HTTP/2 and gRPC through the terminate listener of the built jar with real peers on both sides:
 * grpc-go clients and servers, Node's {@code http2} client and curl. One gateway relays to mTLS
 * endpoints (gateway identity, ALPN h2), a second one to h2c endpoints ({@code tls.upstream:
 * plaintext}) and is then drained with SIGTERM. Netty leak detection is PARANOID in the gateway.
 */
@Timeout(180)
class H2PeersTest {

    static final String ECHO = "echo.default.svc.cluster.local";
    static final String DEAD = "dead.default.svc.cluster.local";
    static final String WEB = "web.default.svc.cluster.local";
    static final String SLEEP_ID = "spiffe://cluster.local/ns/default/sa/sleep";
    static final String GATEWAY_ID = "spiffe://cluster.local/ns/meshgate-system/sa/meshgate";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;
    static Path pki;
    static MeshgateProcess mtlsGateway;
    static int mtlsPort;
    static final List<PeerProcess> servers = new ArrayList<>();

    /** Building grpcpeer (a fresh machine downloads grpc-go first), six `meshgate pki` runs and a gateway start. */
    @BeforeAll
    @Timeout(420)
    static void pkiAndGateway() throws Exception {
        Path peer = RealPeers.grpcPeer();
        pki = dir.resolve("pki");
        meshgatePki("init-cluster", "--name", "cluster-a", "--trust-domain", "cluster.local", "--out", pki.resolve("a").toString());
        meshgatePki("init-cluster", "--name", "cluster-b", "--trust-domain", "cluster.local", "--out", pki.resolve("b").toString());
        meshgatePki("bundle", "--out", pki.resolve("bundle.pem").toString(),
                pki.resolve("a/root-cert.pem").toString(), pki.resolve("b/root-cert.pem").toString());
        meshgatePki("issue", "--ca", pki.resolve("a").toString(), "--spiffe", GATEWAY_ID, "--out", pki.resolve("gateway").toString());
        meshgatePki("issue", "--ca", pki.resolve("b").toString(), "--spiffe", SLEEP_ID, "--out", pki.resolve("sleep").toString());
        meshgatePki("issue", "--ca", pki.resolve("a").toString(), "--spiffe", "spiffe://cluster.local/ns/default/sa/echo",
                "--out", pki.resolve("echo").toString());

        List<String> grpc = new ArrayList<>();
        List<String> web = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            grpc.add("127.0.0.1:" + server(peer, "server", "echo-" + i, true).port());
            web.add("127.0.0.1:" + server(peer, "h1server", "web-" + i, true).port());
        }
        mtlsPort = MeshgateProcess.freePort();
        mtlsGateway = gateway("mtls", mtlsPort, "mtls", grpc, web);
    }

    @AfterAll
    static void stop() throws Exception {
        if (mtlsGateway != null) {
            mtlsGateway.close(); // asserts no LEAK: report
        }
        for (PeerProcess s : servers) {
            s.close();
        }
    }

    static void meshgatePki(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("java", "-jar", MeshgateProcess.JAR.toString(), "pki"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("meshgate pki %s: %s", String.join(" ", args), out).isZero();
    }

    static PeerProcess server(Path peer, String kind, String name, boolean tls) {
        List<String> cmd = new ArrayList<>(List.of(peer.toString(), kind, "-name", name));
        if (tls) {
            cmd.addAll(List.of("-cert", pki.resolve("echo/cert-chain.pem").toString(), "-key", pki.resolve("echo/key.pem").toString(),
                    "-ca", pki.resolve("bundle.pem").toString()));
        }
        PeerProcess p = PeerProcess.start(name, cmd);
        servers.add(p);
        return p;
    }

    static MeshgateProcess gateway(String name, int port, String upstream, List<String> grpc, List<String> web) {
        MeshgateProcess g = MeshgateProcess.start(dir.resolve("gateway-" + name), """
                listeners:
                  - {name: eastwest-mtls, address: "127.0.0.1:%d", mode: terminate}
                tls:
                  certificateChain: "%s"
                  privateKey: "%s"
                  trustBundle: "%s"
                  upstream: %s
                discovery:
                  static:
                    - {host: %s, port: 8080, protocol: grpc, endpoints: [%s]}
                    - {host: %s, port: 8080, protocol: grpc, endpoints: ["127.0.0.1:%d"]}
                    - {host: %s, port: 8080, protocol: http, endpoints: [%s]}
                timeouts:
                  drain: 20s
                """.formatted(port, pki.resolve("gateway/cert-chain.pem"), pki.resolve("gateway/key.pem"),
                pki.resolve("bundle.pem"), upstream, ECHO, quoted(grpc), DEAD, MeshgateProcess.freePort(), WEB, quoted(web)));
        g.awaitReady(Duration.ofSeconds(60));
        return g;
    }

    private static String quoted(List<String> endpoints) {
        return String.join(", ", endpoints.stream().map(e -> "\"" + e + "\"").toList());
    }

    static String sni(String host) {
        return "outbound_.8080_._." + host;
    }

    /** A grpc-go client run against the gateway listening on {@code port}; its flags after the TLS ones. */
    static PeerProcess grpcClient(int port, String host, String... flags) {
        List<String> cmd = new ArrayList<>(List.of(RealPeers.grpcPeer().toString(), "client", "-addr", "127.0.0.1:" + port,
                "-sni", sni(host), "-authority", host + ":8080", "-cert", pki.resolve("sleep/cert-chain.pem").toString(),
                "-key", pki.resolve("sleep/key.pem").toString(), "-ca", pki.resolve("bundle.pem").toString()));
        cmd.addAll(List.of(flags));
        return PeerProcess.start("grpc-go client", cmd);
    }

    static JsonNode run(PeerProcess client) throws Exception {
        try (client) {
            return client.result(Duration.ofSeconds(60));
        }
    }

    /** Pacing of the spread calls (see {@link #assertSpread}): the endpoint's wait in ms, calls in flight. */
    static final int PACE_MS = 20;
    static final int PACE_PARALLEL = 6;

    /** grpc-go client flags, paced. */
    static String[] paced(String... flags) {
        List<String> all = new ArrayList<>(List.of(flags));
        all.addAll(List.of("-sleep-ms", String.valueOf(PACE_MS), "-parallel", String.valueOf(PACE_PARALLEL)));
        return all.toArray(String[]::new);
    }

    /** The XFCC every endpoint must see for the sleep caller. */
    static String expectedXfcc() throws Exception {
        byte[] pem = Files.readAllBytes(pki.resolve("sleep/cert.pem"));
        X509Certificate leaf = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(pem));
        String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(leaf.getEncoded()));
        return "By=" + GATEWAY_ID + ";Hash=" + hash + ";Subject=\"" + leaf.getSubjectX500Principal().getName() + "\";URI=" + SLEEP_ID;
    }

    /**
     * Each of the 3 endpoints got {@code total / 3} ± 30 %. Every count comes from 300 picks (a
     * streaming call's messages all go where the call was picked): even purely random picks stay
     * within ±30 % then (3.7 standard deviations). The default picker (least-connections over open
     * streams, power of two random choices) keeps the spread much tighter (±5 % typically) as long
     * as the endpoints answer equally fast, and routes around one that stalls: that is its job, but
     * on a busy two-core machine an endpoint process is sometimes descheduled for 100 ms or more,
     * and 300 unpaced calls took only 0.3 s, so one such stall cost an endpoint a third of its share
     * (1 failure in 6 runs). The spread calls are therefore paced ({@link #paced}: the endpoint waits
     * 20 ms before answering, 6 calls in flight): each batch of 300 lasts about a second and a
     * 100 ms stall moves a count by a tenth at most (8 runs of this class, 3 of them beside a CPU
     * hog: every count within ±7 %).
     */
    static void assertSpread(JsonNode counts, String prefix, int total) {
        Map<String, Integer> byName = new HashMap<>();
        counts.fields().forEachRemaining(e -> byName.put(e.getKey(), e.getValue().asInt()));
        assertThat(byName.keySet()).as("endpoints reached: %s", byName).containsExactlyInAnyOrder(prefix + "1", prefix + "2", prefix + "3");
        double even = total / 3.0;
        assertThat(byName.values()).as("spread within ±30 %% of %.1f: %s", even, byName)
                .allSatisfy(n -> assertThat((double) n).isBetween(even * 0.7, even * 1.3));
    }

    static void assertXfcc(JsonNode xfccByEndpoint, String expected) {
        assertThat(xfccByEndpoint.size()).isEqualTo(3);
        xfccByEndpoint.fields().forEachRemaining(e -> assertThat(e.getValue()).as("XFCC seen by %s", e.getKey())
                .extracting(JsonNode::asText).containsExactly(expected));
    }

    @Test
    void grpcGoUnaryAndStreamingCallsOnOneConnectionSpreadOverThreeEndpointsWithXfcc() throws Exception {
        // 300 picks of each kind: ±30 % is 3.7 standard deviations of random picks (30 would be 1.2).
        JsonNode r = run(grpcClient(mtlsPort, ECHO, paced("-unary", "300", "-streams", "300", "-per-stream", "3")));
        assertThat(r.get("dials").asInt()).as("one client connection: %s", r).isEqualTo(1);
        assertThat(r.get("codes").toString()).isEqualTo("{\"OK\":600}");
        assertSpread(r.get("unary"), "echo-", 300);
        assertSpread(r.get("stream"), "echo-", 900);
        assertXfcc(r.get("xfcc"), expectedXfcc());
    }

    @Test
    void nodeHttp2ClientSpreadsGrpcCallsOfOneSession() throws Exception {
        RealPeers.need("node");
        JsonNode r = run(PeerProcess.start("node h2peer", List.of("node", RealPeers.NODE_CLIENT.toString(), "grpc",
                String.valueOf(mtlsPort), sni(ECHO), ECHO + ":8080", pki.resolve("sleep/cert-chain.pem").toString(),
                pki.resolve("sleep/key.pem").toString(), pki.resolve("bundle.pem").toString(), "300",
                String.valueOf(PACE_MS), String.valueOf(PACE_PARALLEL))));
        assertThat(r.get("sessions").asInt()).isEqualTo(1);
        assertThat(r.get("errors")).as("%s", r).isEmpty();
        assertThat(r.get("statuses").toString()).as("grpc-status of every call").isEqualTo("{\"grpc-0\":300}");
        assertSpread(r.get("names"), "echo-", 300);
        assertXfcc(r.get("xfcc"), expectedXfcc());
    }

    /** A grpc-js client making {@code calls} paced unary calls (see {@link #assertSpread}). */
    static PeerProcess grpcJsClient(String host, int calls) {
        ProcessBuilder pb = new ProcessBuilder("node", RealPeers.GRPC_JS_CLIENT.toString(), String.valueOf(mtlsPort), sni(host),
                host + ":8080", pki.resolve("sleep/cert-chain.pem").toString(), pki.resolve("sleep/key.pem").toString(),
                pki.resolve("bundle.pem").toString(), String.valueOf(calls), String.valueOf(PACE_MS), String.valueOf(PACE_PARALLEL));
        pb.environment().put("GRPC_JS_DIR", RealPeers.grpcJs().toString());
        return PeerProcess.start("grpc-js client", pb);
    }

    @Test
    void grpcJsClientSpreadsCallsAndGetsUnavailableFromADeadService() throws Exception {
        JsonNode r = run(grpcJsClient(ECHO, 300));
        assertThat(r.get("codes").toString()).as("%s", r).isEqualTo("{\"0\":300}");
        assertSpread(r.get("names"), "echo-", 300);
        assertXfcc(r.get("xfcc"), expectedXfcc());

        JsonNode dead = run(grpcJsClient(DEAD, 1));
        assertThat(dead.get("codes").toString()).as("%s", dead).isEqualTo("{\"14\":1}");
        assertThat(dead.get("messages").get(0).asText()).contains(DEAD);
    }

    @Test
    void deadServiceAnswersUnavailable() throws Exception {
        JsonNode r = run(grpcClient(mtlsPort, DEAD, "-unary", "2", "-timeout", "20s"));
        assertThat(r.get("codes").toString()).as("%s", r).isEqualTo("{\"Unavailable\":2}");
        assertThat(r.get("messages").fieldNames().next()).contains(DEAD);
    }

    @Test
    void deadlineShorterThanTheServerCancelsTheUpstreamCall() throws Exception {
        long cancelledBefore = servers.stream().mapToLong(s -> s.count("CANCELLED Who")).sum();
        long start = System.nanoTime();
        JsonNode r = run(grpcClient(mtlsPort, ECHO, "-unary", "3", "-sleep-ms", "10000", "-timeout", "1s"));
        assertThat(r.get("codes").toString()).as("%s", r).isEqualTo("{\"DeadlineExceeded\":3}");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
        // The endpoint saw its call cancelled (RST_STREAM from the gateway), long before its 10 s.
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(
                () -> servers.stream().mapToLong(s -> s.count("CANCELLED Who")).sum() - cancelledBefore == 3);
    }

    @Test
    void http1AndHttp2CallersOfTheSameServiceAtOnce() throws Exception {
        RealPeers.need("node");
        RealPeers.need("curl");
        List<String> curl = new ArrayList<>(List.of("curl", "-sS", "--http1.1", "--max-time", "30", "-k",
                "--resolve", sni(WEB) + ":" + mtlsPort + ":127.0.0.1",
                "--cert", pki.resolve("sleep/cert-chain.pem").toString(), "--key", pki.resolve("sleep/key.pem").toString()));
        for (int i = 0; i < 30; i++) {
            curl.add("https://" + sni(WEB) + ":" + mtlsPort + "/");
        }
        try (PeerProcess h1 = PeerProcess.start("curl --http1.1", curl)) {
            JsonNode h2 = run(PeerProcess.start("node h2peer", List.of("node", RealPeers.NODE_CLIENT.toString(), "get",
                    String.valueOf(mtlsPort), sni(WEB), WEB + ":8080", pki.resolve("sleep/cert-chain.pem").toString(),
                    pki.resolve("sleep/key.pem").toString(), pki.resolve("bundle.pem").toString(), "270")));
            assertThat(h2.get("errors")).as("%s", h2).isEmpty();
            assertThat(h2.get("statuses").toString()).isEqualTo("{\"200\":270}");
            assertThat(h2.get("names").size()).as("h2 streams balanced per request: %s", h2).isEqualTo(3);
            assertXfcc(h2.get("xfcc"), expectedXfcc());

            assertThat(h1.exit(Duration.ofSeconds(40))).as("curl: %s", h1.lines()).isZero();
            List<JsonNode> replies = new ArrayList<>();
            for (String line : h1.lines()) {
                replies.add(JSON.readTree(line));
            }
            assertThat(replies).hasSize(30).allSatisfy(n -> {
                assertThat(n.get("proto").asText()).isEqualTo("HTTP/1.1");
                assertThat(n.get("xfcc")).extracting(JsonNode::asText).containsExactly(expectedXfcc());
            });
            // Both protocols reach every endpoint. No ±30 % check here: for an `http` service the
            // least-connections picker weighs the endpoints' open HTTP/1.1 pool connections, and the
            // counts legitimately drift with them (one run: 67/108/125 of 300).
            Map<String, Integer> all = new HashMap<>();
            h2.get("names").fields().forEachRemaining(e -> all.merge(e.getKey(), e.getValue().asInt(), Integer::sum));
            replies.forEach(n -> all.merge(n.get("name").asText(), 1, Integer::sum));
            assertThat(all.keySet()).as("%s", all).containsExactlyInAnyOrder("web-1", "web-2", "web-3");
            assertThat(all.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(300);
        }
    }

    @Test
    void h2cUpstreamBalancesAndSigtermLetsInFlightCallsFinish() throws Exception {
        Path peer = RealPeers.grpcPeer();
        List<PeerProcess> h2c = new ArrayList<>();
        List<String> endpoints = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            PeerProcess s = server(peer, "server", "echo-" + i, false);
            h2c.add(s);
            endpoints.add("127.0.0.1:" + s.port());
        }
        int port = MeshgateProcess.freePort();
        try (MeshgateProcess plaintext = gateway("plaintext", port, "plaintext", endpoints, endpoints)) {
            JsonNode r = run(grpcClient(port, ECHO, paced("-unary", "300")));
            assertThat(r.get("dials").asInt()).isEqualTo(1);
            assertThat(r.get("codes").toString()).as("%s", r).isEqualTo("{\"OK\":300}");
            assertSpread(r.get("unary"), "echo-", 300);
            assertXfcc(r.get("xfcc"), expectedXfcc());

            // Six calls of 3 s each in flight on one connection, then SIGTERM: GOAWAY, and all six complete.
            try (PeerProcess client = grpcClient(port, ECHO, "-unary", "6", "-parallel", "6", "-sleep-ms", "3000")) {
                org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(20)).until(
                        () -> h2c.stream().mapToLong(s -> s.count("START Who")).sum() == 300 + 6);
                long sigterm = System.nanoTime();
                plaintext.terminate();
                JsonNode drained = client.result(Duration.ofSeconds(30));
                assertThat(drained.get("codes").toString()).as("%s", drained).isEqualTo("{\"OK\":6}");
                assertThat(drained.get("dials").asInt()).isEqualTo(1);
                assertThat(plaintext.exitCode(Duration.ofSeconds(25))).isZero();
                assertThat(Duration.ofNanos(System.nanoTime() - sigterm)).as("exit once the calls ended, not at the drain timeout")
                        .isLessThan(Duration.ofSeconds(15));
            }
        }
    }
}
