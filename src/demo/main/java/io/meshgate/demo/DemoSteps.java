package io.meshgate.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.kubernetes.ExportPolicy;
import io.meshgate.tls.Fingerprint;
import io.meshgate.tls.Pem;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The six things the demo proves, each from what a user could observe (a pod's answer, an admin
 * endpoint), each bounded in time, each one line, in the order the README lists them.
 */
final class DemoSteps {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern TLS_ALERT = Pattern.compile("ALERT_([A-Z_]+)");
    private static final String DOWNSTREAM = "meshgate_downstream_connections_total";
    private static final String UPSTREAM = "meshgate_upstream_connections_total";
    /** How long a joining cluster's root may take to reach every gateway and published bundle. */
    private static final Duration JOIN_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration SCALE_DEADLINE = Duration.ofSeconds(1);

    private final Demo demo;
    private final DemoCluster a;
    private final DemoCluster b;
    private final Workload sleep;

    DemoSteps(Demo demo) {
        this.demo = demo;
        this.a = demo.clusterA();
        this.b = demo.clusterB();
        this.sleep = demo.sleepOfB();
    }

    List<StepResult> run(PrintWriter out) {
        List<StepResult> results = new ArrayList<>();
        step(results, out, 1, "cluster-b's sleep -> httpbin of cluster-a via cluster-a's east-west gateway (passthrough);"
                        + " only labelled Services are exported",
                this::passthroughAcrossClusters);
        step(results, out, 2, "the same via cluster-a's terminate listener, caller in XFCC", this::terminateAcrossClusters);
        step(results, out, 3, "a workload with a rogue root is refused", this::rogueRefused);
        step(results, out, 4, "cluster-b's sleep -> httpbin via cluster-b's egress listener", this::egressToRemoteCluster);
        step(results, out, 5, "httpbin scaled in cluster-a's API server moves new connections", this::scaleMovesConnections);
        step(results, out, 6, "a third cluster joins by its remote Secret alone: its root reaches every gateway and every"
                        + " published bundle, its workload is accepted, and refused after the Secret is deleted and the grace",
                this::thirdClusterJoinsBySecret);
        return results;
    }

    /** What a step does: returns what it saw, or throws {@link StepFailure} (or any exception) saying why not. */
    @FunctionalInterface
    private interface Step {
        String prove() throws Exception;
    }

    /** A step's expectation that did not hold; its message is the FAIL line's reason. */
    private static final class StepFailure extends Exception {
        StepFailure(String message) {
            super(message);
        }
    }

    private static void step(List<StepResult> results, PrintWriter out, int n, String title, Step step) {
        StepResult r;
        try {
            r = new StepResult(n, title, true, step.prove());
        } catch (StepFailure e) {
            r = new StepResult(n, title, false, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            r = new StepResult(n, title, false, "interrupted");
        } catch (Exception e) {
            r = new StepResult(n, title, false, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        results.add(r);
        out.println(r.line());
        out.flush();
    }

    private static void expect(boolean condition, String otherwise) throws StepFailure {
        if (!condition) {
            throw new StepFailure(otherwise);
        }
    }

    // 1
    private String passthroughAcrossClusters() throws Exception {
        WhoAmI who = sleep.whoami(a.listener(DemoNetwork.EASTWEST_PORT), Demo.SNI);
        expect(who.cluster().equals(a.name()), "answered by " + who.pod() + " of " + who.cluster());
        expect(who.peer().equals(sleep.spiffeId()), "the pod saw " + who.peer() + ", not " + sleep.spiffeId());
        expect(who.peerRootSha256().equals(b.rootSha256()), "the pod saw a chain signed by " + who.peerRoot()
                + ", not cluster-b's root");
        expect(who.xfcc().equals("-"), "passthrough must not add XFCC, the pod got " + who.xfcc());
        String apiServer = OutboundSni.format("kubernetes.default.svc." + DemoCluster.TRUST_DOMAIN, 443);
        String hidden = JSON.readTree(AdminClient.get(a.admin(), "/debug/resolve?sni=" + encode(apiServer)).body())
                .path("error").asText();
        expect(hidden.equals("no-such-service"), "cluster-a's API server Service is reachable from other clusters: "
                + "/debug/resolve answered " + (hidden.isEmpty() ? "its endpoints" : hidden));
        return who.pod() + " saw " + who.peer() + " signed by " + who.peerRoot() + " (sha256 "
                + Demo.shortHash(who.peerRootSha256()) + "); httpbin is labelled " + ExportPolicy.LABEL
                + "=true, kubernetes.default is not: no-such-service";
    }

    // 2
    private String terminateAcrossClusters() throws Exception {
        WhoAmI who = sleep.whoami(a.listener(DemoNetwork.EASTWEST_MTLS_PORT), Demo.SNI);
        expect(who.cluster().equals(a.name()), "answered by " + who.pod() + " of " + who.cluster());
        expect(who.peer().equals(DemoCluster.GATEWAY_ID.toString()), "the pod saw " + who.peer()
                + ", expected the gateway " + DemoCluster.GATEWAY_ID);
        expect(who.peerRootSha256().equals(a.rootSha256()), "the gateway's chain was signed by " + who.peerRoot());
        expect(sleep.spiffeId().equals(who.xfccUri()), "XFCC " + who.xfcc() + " does not carry URI=" + sleep.spiffeId());
        String leafHash = Fingerprint.sha256(Pem.readCertificates(sleep.files().certificateChain()).get(0));
        expect(who.xfcc().contains("Hash=" + leafHash), "XFCC " + who.xfcc() + " does not carry sleep's Hash=" + leafHash);
        return who.pod() + " saw " + who.peer() + " (cluster-a root); XFCC URI=" + who.xfccUri() + " Hash="
                + Demo.shortHash(leafHash);
    }

    // 3
    private String rogueRefused() throws Exception {
        DemoCluster rogueCluster = demo.extraCluster("rogue");
        Workload rogue = rogueCluster.workload("sleep", demo.group());
        int refusedBefore = refusedByPods();
        String passthroughError = refusal(() -> rogue.whoami(a.listener(DemoNetwork.EASTWEST_PORT), Demo.SNI));
        within(Duration.ofSeconds(2), () -> refusedByPods() > refusedBefore ? true : null,
                "no pod of cluster-a counted a refused handshake");
        InetSocketAddress admin = a.admin();
        String[] denied = {"listener=\"eastwest-mtls\"", "outcome=\"denied\""};
        double deniedBefore = AdminClient.metric(admin, DOWNSTREAM, denied);
        String terminateError = refusal(() -> rogue.whoami(a.listener(DemoNetwork.EASTWEST_MTLS_PORT), Demo.SNI));
        double deniedAfter = within(Duration.ofSeconds(2), () -> {
            double now = AdminClient.metric(admin, DOWNSTREAM, denied);
            return now > deniedBefore ? now : null;
        }, "cluster-a's /metrics did not count the refusal as " + DOWNSTREAM + "{listener=\"eastwest-mtls\",outcome=\"denied\"}");
        return "same SPIFFE ID " + rogue.spiffeId() + ", root " + rogueCluster.rootSubject() + " not in the bundle; "
                + "passthrough: the pod refused it (" + passthroughError + "); terminate: the gateway refused it ("
                + terminateError + "), outcome denied " + (long) deniedBefore + " -> " + (long) deniedAfter;
    }

    // 4
    private String egressToRemoteCluster() throws Exception {
        // What cluster-b's meshgate knows: no local endpoint, cluster-a's gateway at the address its Service announces.
        String expectedGateway = a.gatewayIp() + ":" + DemoNetwork.EASTWEST_PORT;
        String resolveUrl = "/debug/resolve?sni=" + encode(Demo.SNI);
        JsonNode resolved = within(Duration.ofSeconds(5), () -> {
            JsonNode node = JSON.readTree(AdminClient.get(b.admin(), resolveUrl).body());
            return remoteGateway(node, a.name()).equals(expectedGateway) ? node : null;
        }, "cluster-b's /debug/resolve never listed cluster-a's gateway " + expectedGateway);
        expect(endpoints(resolved).isEmpty(), "cluster-b has local httpbin endpoints: " + resolved);
        String[] routedA = {"listener=\"eastwest\"", "outcome=\"routed\""};
        String[] toClusterA = {"listener=\"egress\"", "cluster=\"" + a.name() + "\""};
        double routedBefore = AdminClient.metric(a.admin(), DOWNSTREAM, routedA);
        double sentBefore = AdminClient.metric(b.admin(), UPSTREAM, toClusterA);
        WhoAmI who = sleep.whoami(b.listener(DemoNetwork.EGRESS_PORT), Demo.SNI);
        expect(who.cluster().equals(a.name()), "answered by " + who.pod() + " of " + who.cluster());
        expect(who.peer().equals(sleep.spiffeId()) && who.peerRootSha256().equals(b.rootSha256()),
                "end-to-end mTLS broken: the pod saw " + who.peer() + " signed by " + who.peerRoot());
        within(Duration.ofSeconds(2), () -> AdminClient.metric(b.admin(), UPSTREAM, toClusterA) > sentBefore ? true : null,
                "cluster-b's /metrics did not count an egress connection to cluster-a");
        within(Duration.ofSeconds(2), () -> AdminClient.metric(a.admin(), DOWNSTREAM, routedA) > routedBefore ? true : null,
                "cluster-a's east-west listener did not count the connection");
        return "no httpbin endpoint in cluster-b; meshgate-b sent it to cluster-a's gateway " + expectedGateway
                + " (from Service " + DemoCluster.GATEWAY_NAMESPACE + "/" + DemoCluster.GATEWAY_SERVICE
                + " in cluster-a's API server), SNI unchanged; " + who.pod() + " saw " + who.peer()
                + " signed by cluster-b's root";
    }

    private static String remoteGateway(JsonNode resolved, String cluster) {
        for (JsonNode remote : resolved.path("remoteClusters")) {
            if (remote.path("cluster").asText().equals(cluster)) {
                return remote.path("gateway").asText();
            }
        }
        return "";
    }

    private static List<String> endpoints(JsonNode resolved) {
        List<String> list = new ArrayList<>();
        resolved.path("endpoints").forEach(e -> list.add(e.asText()));
        return list;
    }

    // 5
    private String scaleMovesConnections() throws Exception {
        List<String> expected = List.of(address(2), address(3));
        // httpbin-3 added, httpbin-1 made not-ready: one slice update, as the EndpointSlice controller writes it.
        a.apply(Demo.httpbinSlice(Demo.notReady(a, 1), Demo.ready(a, 2), Demo.ready(a, 3)));
        long start = System.nanoTime(); // the API server holds the change from here on
        String resolveUrl = "/debug/resolve?sni=" + encode(Demo.SNI);
        List<String> seen = List.of();
        while (System.nanoTime() - start < SCALE_DEADLINE.toNanos()) {
            seen = endpoints(JSON.readTree(AdminClient.get(a.admin(), resolveUrl).body()));
            if (seen.equals(expected)) {
                break;
            }
            Thread.sleep(10);
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        expect(seen.equals(expected), "/debug/resolve still shows " + seen + " " + SCALE_DEADLINE.toMillis()
                + " ms after the change, expected " + expected);
        Set<String> answered = new LinkedHashSet<>();
        for (int i = 0; i < 20 && !answered.contains("httpbin-3"); i++) {
            WhoAmI who = sleep.whoami(a.listener(DemoNetwork.EASTWEST_PORT), Demo.SNI);
            expect(!who.pod().equals("httpbin-1"), "a new connection still went to the not-ready httpbin-1");
            answered.add(who.pod());
        }
        expect(answered.contains("httpbin-3"), "20 new connections never reached the added httpbin-3: " + answered);
        return "/debug/resolve showed " + expected + " " + millis + " ms after the API server stored the change; "
                + "new connections answered by "
                + answered + ", none by the not-ready httpbin-1";
    }

    // 6
    private String thirdClusterJoinsBySecret() throws Exception {
        DemoCluster c = demo.joiningCluster("cluster-c");
        Workload sleepOfC = c.workload("sleep", demo.group());
        InetSocketAddress terminate = a.listener(DemoNetwork.EASTWEST_MTLS_PORT);
        String before = refusal(() -> sleepOfC.whoami(terminate, Demo.SNI));

        // Its remote Secret alone, in both clusters: no file is copied, no gateway restarts.
        io.fabric8.kubernetes.api.model.Secret secret = c.remoteSecret();
        long start = System.nanoTime();
        a.apply(secret);
        b.apply(secret);
        WhoAmI accepted = within(JOIN_TIMEOUT, () -> sleepOfC.whoami(terminate, Demo.SNI),
                "cluster-a's gateway still refused cluster-c's workload " + JOIN_TIMEOUT.toSeconds() + "s after its Secret");
        long acceptedMillis = (System.nanoTime() - start) / 1_000_000;
        expect(sleepOfC.spiffeId().equals(accepted.xfccUri()), "XFCC " + accepted.xfcc() + " does not name cluster-c's sleep");
        within(JOIN_TIMEOUT, () -> everywhere(c) ? Boolean.TRUE : null,
                "cluster-c's root did not reach both gateways' /debug/trust and both published bundles within "
                        + JOIN_TIMEOUT.toSeconds() + "s");
        long everywhereMillis = (System.nanoTime() - start) / 1_000_000;

        a.delete(secret);
        b.delete(secret);
        long left = System.nanoTime();
        Duration limit = JOIN_TIMEOUT.plus(DemoCluster.REMOVAL_GRACE);
        String after = null;
        while (after == null) {
            try {
                sleepOfC.whoami(terminate, Demo.SNI);
            } catch (IOException refused) {
                after = refusal(() -> sleepOfC.whoami(terminate, Demo.SNI));
            }
            expect(System.nanoTime() - left < limit.toNanos(), "cluster-c's workload was still accepted "
                    + limit.toSeconds() + "s after its Secret was deleted");
            Thread.sleep(50);
        }
        long refusedMillis = (System.nanoTime() - left) / 1_000_000;
        expect(refusedMillis >= DemoCluster.REMOVAL_GRACE.toMillis() - 500, "refused after " + refusedMillis
                + " ms, before the removal grace of " + DemoCluster.REMOVAL_GRACE.toSeconds() + "s");
        return "cluster-c's sleep was refused (" + before + "); with only its remote Secret applied it was accepted through "
                + "cluster-a's eastwest-mtls after " + acceptedMillis + " ms (XFCC URI=" + accepted.xfccUri() + "), its root "
                + Demo.shortHash(c.rootSha256()) + " was in both gateways' /debug/trust and both published bundles after "
                + everywhereMillis + " ms; Secret deleted: refused again after " + refusedMillis + " ms (removalGrace "
                + DemoCluster.REMOVAL_GRACE.toSeconds() + "s, " + after + ")";
    }

    /** Both gateways trust {@code c}'s root (source cluster:NAME) and both published it into their cluster. */
    private boolean everywhere(DemoCluster c) throws Exception {
        for (DemoCluster g : List.of(a, b)) {
            String trust = AdminClient.get(g.admin(), "/debug/trust").body();
            if (!trust.contains("\"cluster:" + c.name() + "\"") || !trust.contains(c.rootSha256())
                    || !g.publishedBundle().contains(c.rootPem())) {
                return false;
            }
        }
        return true;
    }

    private int refusedByPods() {
        return a.pods().values().stream().mapToInt(DemoPod::refusedHandshakes).sum();
    }

    private String address(int pod) {
        return a.pods().get(Demo.HTTPBIN + "-" + pod).address().getHostString() + ":" + DemoNetwork.POD_PORT;
    }

    /** A call that must fail; returns the failure, shortened for the step's line. */
    private static String refusal(Callable<WhoAmI> call) throws Exception {
        WhoAmI who;
        try {
            who = call.call();
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            Matcher alert = TLS_ALERT.matcher(m); // BoringSSL says e.g. "...:SSLV3_ALERT_BAD_CERTIFICATE"
            if (alert.find()) {
                return "TLS alert " + alert.group(1).toLowerCase(java.util.Locale.ROOT);
            }
            return m.length() > 80 ? m.substring(0, 80) + "…" : m;
        }
        throw new StepFailure("it was accepted: " + who.pod() + " answered, having seen " + who.peer());
    }

    /** Retries {@code attempt} until it returns non-null without throwing, for at most {@code timeout}. */
    private static <T> T within(Duration timeout, Callable<T> attempt, String otherwise) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Exception last = null;
        while (true) {
            try {
                T value = attempt.call();
                if (value != null) {
                    return value;
                }
            } catch (IOException e) {
                last = e;
            }
            if (System.nanoTime() > deadline) {
                throw new StepFailure(otherwise + (last == null ? "" : " (last: " + last.getMessage() + ")"));
            }
            Thread.sleep(50);
        }
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
