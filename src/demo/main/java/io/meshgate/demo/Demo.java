package io.meshgate.demo;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.kubernetes.ExportPolicy;
import io.meshgate.tls.pki.FederatedBundle;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The seed on one machine: two clusters with their own roots and API servers joined into one
 * mesh by a federated bundle and one meshgate each, then the {@link DemoSteps} that prove it.
 * Everything it starts is closed by {@link #close()}; no thread outlives it.
 */
public final class Demo implements AutoCloseable {

    static final String NAMESPACE = "default";
    static final String HTTPBIN = "httpbin";
    static final String HTTPBIN_HOST = HTTPBIN + "." + NAMESPACE + ".svc." + DemoCluster.TRUST_DOMAIN;
    static final int HTTPBIN_PORT = 8080;
    static final String SNI = OutboundSni.format(HTTPBIN_HOST, HTTPBIN_PORT);
    static final Duration READY_TIMEOUT = Duration.ofSeconds(20);

    private final Path dir;
    private final DemoNetwork network;
    private final PrintWriter out;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2,
            new DefaultThreadFactory("meshgate-demo", true), NioIoHandler.newFactory());
    private final List<DemoCluster> clusters = new ArrayList<>();
    private Path bundle;
    private DemoCluster a;
    private DemoCluster b;
    private Workload sleepOfB;

    private Demo(Path dir, DemoNetwork network, PrintWriter out) {
        this.dir = dir;
        this.network = network;
        this.out = out;
    }

    /**
     * Writes every file to {@code dir} and starts both clusters on {@code networkPrefix.0.0/16}
     * (e.g. {@code 127.0}); prints what it made. Throws (after closing what started) when the
     * set-up itself fails, e.g. an address already in use.
     */
    public static Demo start(Path dir, String networkPrefix, PrintWriter out) throws Exception {
        Demo demo = new Demo(dir.toAbsolutePath(), new DemoNetwork(networkPrefix), out);
        try {
            demo.setUp();
        } catch (Exception | Error e) {
            demo.close();
            throw e;
        }
        return demo;
    }

    private void setUp() throws Exception {
        Files.createDirectories(dir);
        bundle = dir.resolve("bundle.pem");
        a = cluster("cluster-a", 1);
        b = cluster("cluster-b", 2);
        // The bundle exchange: each cluster's root-cert.pem, merged as `meshgate pki bundle` does.
        FederatedBundle.write(List.of(a.rootCertFile(), b.rootCertFile()), bundle, Instant.now());

        a.startApiServer();
        b.startApiServer();
        // Trust federation: each cluster publishes its own root; every gateway reads them all.
        a.publishRoot();
        b.publishRoot();
        for (int n = 1; n <= 3; n++) {
            a.startPod(HTTPBIN + "-" + n, n, HTTPBIN, group, HTTPBIN_HOST, SNI);
        }
        a.apply(httpbinService(), httpbinSlice(ready(a, 1), ready(a, 2)), a.gatewayService());
        // As in every cluster: the API server's own Service, which meshgate must never export unasked.
        a.apply(apiServerService(), apiServerSlice(a));
        // The same Service exists in cluster-b, without a single endpoint there.
        b.apply(httpbinService(), b.gatewayService());

        a.writeConfig(List.of(b));
        b.writeConfig(List.of(a));
        a.startGateway();
        b.startGateway();
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        while (!(a.gateway().ready() && b.gateway().ready())) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the gateways were not ready within " + READY_TIMEOUT.toSeconds()
                        + "s (see " + a.admin() + "/readyz and " + b.admin() + "/readyz)");
            }
            Thread.sleep(20);
        }
        sleepOfB = b.workload("sleep", group);
        printSetUp();
    }

    private DemoCluster cluster(String name, int index) throws Exception {
        DemoCluster c = DemoCluster.create(name, index, network, dir, dir.resolve("bundle.pem"));
        clusters.add(c);
        return c;
    }

    /** A third cluster with its own API server (its root published there), not yet known to any gateway. */
    DemoCluster joiningCluster(String name) throws Exception {
        DemoCluster c = cluster(name, 3);
        c.startApiServer();
        c.publishRoot();
        return c;
    }

    /** A cluster that only lends a root and a workload (the rogue one). */
    DemoCluster extraCluster(String name) throws Exception {
        return cluster(name, 0);
    }

    private void printSetUp() {
        out.println("meshgate demo: two clusters, one mesh (trust domain " + DemoCluster.TRUST_DOMAIN + "), files in " + dir);
        for (DemoCluster c : List.of(a, b)) {
            out.printf("  %s  API server %s, meshgate %s (eastwest :%d, eastwest-mtls :%d, egress :%d, admin :%d)%n",
                    c.name(), c.api().url(), c.gatewayIp(), DemoNetwork.EASTWEST_PORT, DemoNetwork.EASTWEST_MTLS_PORT,
                    DemoNetwork.EGRESS_PORT, DemoNetwork.ADMIN_PORT);
            out.printf("             root %s (sha256 %s), config %s%n", c.rootSubject(), shortHash(c.rootSha256()),
                    c.dir().resolve("meshgate.yaml"));
            if (!c.pods().isEmpty()) {
                out.println("             pods " + c.pods().values().stream()
                        .map(p -> p.name() + " " + p.address().getHostString() + ":" + p.address().getPort()).toList()
                        + ", Service " + HTTPBIN_HOST + ":" + HTTPBIN_PORT);
            }
        }
        out.println("  bundle     " + bundle + " (cluster-a and cluster-b roots)");
        out.flush();
    }

    /** Runs the six steps, printing one line per step as it completes. */
    public List<StepResult> prove() {
        List<StepResult> results = new DemoSteps(this).run(out);
        long failed = results.stream().filter(r -> !r.passed()).count();
        out.println(failed == 0 ? "all " + results.size() + " steps passed" : failed + " of " + results.size() + " steps FAILED");
        out.flush();
        return results;
    }

    /** How to poke the running demo by hand (curl with the generated certificates). */
    public String pokeInstructions() {
        String sleep = b.dir().resolve("workloads/sleep") + "/";
        String curl = "curl --cert " + sleep + "cert-chain.pem --key " + sleep + "key.pem --cacert " + bundle
                + " \\\n      --connect-to " + SNI + ":443:%s:%d https://" + SNI + "/whoami";
        return String.join("\n",
                "Everything stays up until Ctrl-C. Poke it (as cluster-b's workload 'sleep'):",
                "  # through cluster-a's east-west gateway, passthrough: the pod sees sleep, signed by cluster-b's root",
                "  " + curl.formatted(a.gatewayIp(), DemoNetwork.EASTWEST_PORT),
                "  # through cluster-a's terminate listener: the pod sees meshgate; X-Forwarded-Client-Cert names sleep",
                "  " + curl.formatted(a.gatewayIp(), DemoNetwork.EASTWEST_MTLS_PORT),
                "  # through cluster-b's egress listener: no httpbin endpoints in cluster-b, so on to cluster-a's gateway",
                "  " + curl.formatted(b.gatewayIp(), DemoNetwork.EGRESS_PORT),
                "  # what the gateways see",
                "  curl '" + adminUrl(a) + "/debug/resolve?sni=" + SNI + "'",
                "  curl " + adminUrl(b) + "/debug/routes; curl " + adminUrl(a) + "/debug/trust; curl -s "
                        + adminUrl(a) + "/metrics | grep meshgate_downstream",
                "  # cluster-a's API server (fabric8's mock in CRUD mode: REST, no kubectl discovery); PUT a slice to scale",
                "  curl " + a.api().url() + "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
                "");
    }

    private static String adminUrl(DemoCluster c) {
        return "http://" + c.gatewayIp() + ":" + DemoNetwork.ADMIN_PORT;
    }

    Path dir() {
        return dir;
    }

    Path bundle() {
        return bundle;
    }

    DemoCluster clusterA() {
        return a;
    }

    DemoCluster clusterB() {
        return b;
    }

    EventLoopGroup group() {
        return group;
    }

    Workload sleepOfB() {
        return sleepOfB;
    }

    static String shortHash(String sha256) {
        return sha256.substring(0, 12) + "…";
    }

    static Service httpbinService() {
        return new ServiceBuilder()
                // Exported to the other cluster, as an operator marks it (discovery.export: labelled).
                .withNewMetadata().withNamespace(NAMESPACE).withName(HTTPBIN)
                .withLabels(Map.of(ExportPolicy.LABEL, "true")).endMetadata()
                .withNewSpec().withType("ClusterIP").withSelector(Map.of("app", HTTPBIN))
                // appProtocol http: a terminate listener speaks HTTP to it and adds XFCC.
                .addNewPort().withName("http").withAppProtocol("http").withPort(HTTPBIN_PORT).withProtocol("TCP")
                .withNewTargetPort(DemoNetwork.POD_PORT).endPort()
                .endSpec().build();
    }

    /** {@code default/kubernetes}, as kube-apiserver maintains it (unlabelled: never exported). */
    static Service apiServerService() {
        return new ServiceBuilder()
                .withNewMetadata().withNamespace("default").withName("kubernetes").endMetadata()
                .withNewSpec().withType("ClusterIP")
                .addNewPort().withName("https").withPort(443).withProtocol("TCP")
                .withNewTargetPort(DemoNetwork.API_SERVER_PORT).endPort()
                .endSpec().build();
    }

    static EndpointSlice apiServerSlice(DemoCluster c) {
        return new EndpointSliceBuilder()
                .withNewMetadata().withNamespace("default").withName("kubernetes")
                .withLabels(Map.of("kubernetes.io/service-name", "kubernetes")).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("https").withPort(DemoNetwork.API_SERVER_PORT).withProtocol("TCP").endPort()
                .withEndpoints(new EndpointBuilder().withAddresses(c.gatewayIp()).build())
                .build();
    }

    /** The Service's one EndpointSlice, as the EndpointSlice controller would write it. */
    static EndpointSlice httpbinSlice(Endpoint... endpoints) {
        return new EndpointSliceBuilder()
                .withNewMetadata().withNamespace(NAMESPACE).withName(HTTPBIN + "-x7k2p")
                .withLabels(Map.of("kubernetes.io/service-name", HTTPBIN)).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("http").withPort(DemoNetwork.POD_PORT).withProtocol("TCP").endPort()
                .withEndpoints(Arrays.asList(endpoints))
                .build();
    }

    static Endpoint ready(DemoCluster c, int pod) {
        return endpoint(c, pod, true);
    }

    static Endpoint notReady(DemoCluster c, int pod) {
        return endpoint(c, pod, false);
    }

    private static Endpoint endpoint(DemoCluster c, int pod, boolean ready) {
        DemoPod p = c.pods().get(HTTPBIN + "-" + pod);
        return new EndpointBuilder().withAddresses(p.address().getHostString())
                .withNewConditions().withReady(ready).withServing(ready).withTerminating(false).endConditions()
                .withNewTargetRef().withKind("Pod").withNamespace(NAMESPACE).withName(p.name()).endTargetRef()
                .build();
    }

    /** Closes the gateways, pods and API servers, then the demo's event loops; waits for their threads. */
    @Override
    public void close() {
        clusters.forEach(DemoCluster::stopGateway); // every gateway watches every API server
        clusters.forEach(DemoCluster::close);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
