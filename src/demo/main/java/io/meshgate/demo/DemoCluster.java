package io.meshgate.demo;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.meshgate.gateway.Gateway;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.MeshgateConfig;
import io.meshgate.routing.kubernetes.MockApiServer;
import io.meshgate.tls.Fingerprint;
import io.meshgate.tls.SpiffeId;
import io.meshgate.tls.TlsFiles;
import io.meshgate.tls.TlsMaterialException;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.pki.PkiException;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.security.auth.x500.X500Principal;

/**
 * One demo cluster and everything a user would set up for it: a root CA made with the
 * {@code pki} code, an API server, workload and gateway certificates, "pods", and a meshgate
 * started from the {@code meshgate.yaml} and kubeconfig files written to the cluster's folder.
 */
final class DemoCluster implements AutoCloseable {

    static final String TRUST_DOMAIN = "cluster.local";
    static final String GATEWAY_NAMESPACE = "meshgate-system";
    static final String GATEWAY_SERVICE = "meshgate";
    static final SpiffeId GATEWAY_ID = SpiffeId.parse("spiffe://cluster.local/ns/meshgate-system/sa/meshgate");

    private final String name;
    private final int index;
    private final DemoNetwork network;
    private final Path dir;
    private final Path bundle;
    private final ClusterCa ca;
    private final Map<String, DemoPod> pods = new LinkedHashMap<>();
    private final List<AutoCloseable> started = new ArrayList<>();
    private MockApiServer api;
    private Gateway gateway;

    private DemoCluster(String name, int index, DemoNetwork network, Path dir, Path bundle, ClusterCa ca) {
        this.name = name;
        this.index = index;
        this.network = network;
        this.dir = dir;
        this.bundle = bundle;
        this.ca = ca;
    }

    /**
     * A cluster's CA, as {@code meshgate pki init-cluster --name NAME --trust-domain cluster.local
     * --out DIR/NAME/ca} makes it. {@code index} places it on the network; 0 = no addresses (a
     * cluster the demo only takes a root and a workload from).
     */
    static DemoCluster create(String name, int index, DemoNetwork network, Path baseDir, Path bundle)
            throws PkiException, IOException {
        Path dir = baseDir.resolve(name);
        ClusterCa ca = ClusterCa.create(name, TRUST_DOMAIN, Instant.now());
        ca.write(dir.resolve("ca"), true);
        return new DemoCluster(name, index, network, dir, bundle, ca);
    }

    String name() {
        return name;
    }

    Path dir() {
        return dir;
    }

    Path rootCertFile() {
        return dir.resolve("ca").resolve(ClusterCa.ROOT_CERT);
    }

    String rootSubject() {
        return ca.rootCert().getSubjectX500Principal().getName(X500Principal.RFC2253);
    }

    String rootSha256() {
        return Fingerprint.sha256(ca.rootCert());
    }

    /**
     * A workload certificate of this cluster (as {@code meshgate pki issue}) in
     * {@code DIR/NAME/<folder>}, with the shared bundle: the files a sidecar would mount.
     */
    TlsFiles issue(String folder, String spiffeId, String... dnsNames) throws PkiException, IOException {
        IssuedIdentity id = ca.issue(SpiffeId.parse(spiffeId), List.of(dnsNames), ClusterCa.LEAF_VALIDITY, Instant.now());
        Path out = dir.resolve(folder);
        Files.createDirectories(out);
        id.write(out);
        return new TlsFiles(out.resolve(IssuedIdentity.CERT_CHAIN), out.resolve(IssuedIdentity.KEY), bundle);
    }

    Workload workload(String workloadName, EventLoopGroup group) throws PkiException, IOException, TlsMaterialException {
        TlsFiles files = issue("workloads/" + workloadName, "spiffe://" + TRUST_DOMAIN + "/ns/default/sa/" + workloadName);
        return Workload.of(workloadName + " (" + name + ")", files, group);
    }

    void startApiServer() throws IOException {
        try {
            api = MockApiServer.start(network.gatewayIp(index), DemoNetwork.API_SERVER_PORT);
        } catch (IllegalStateException e) {
            throw new IOException(e.getMessage(), e);
        }
        started.add(api);
    }

    MockApiServer api() {
        return api;
    }

    void apply(HasMetadata... objects) {
        api.apply(objects);
    }

    /** Starts pod {@code podName} on {@code PREFIX.index.n:8443}, serving {@code host} with identity {@code sa}. */
    DemoPod startPod(String podName, int n, String serviceAccount, EventLoopGroup group, String... dnsNames)
            throws PkiException, IOException, TlsMaterialException, InterruptedException {
        TlsFiles files = issue("pods/" + podName, "spiffe://" + TRUST_DOMAIN + "/ns/default/sa/" + serviceAccount, dnsNames);
        DemoPod pod = DemoPod.start(podName, name, network.pod(index, n), files, group);
        pods.put(podName, pod);
        started.add(pod);
        return pod;
    }

    Map<String, DemoPod> pods() {
        return pods;
    }

    /**
     * The Service a user's {@code deploy/} manifests create for meshgate, with the address the
     * cloud's load balancer assigned in its status: what remote clusters discover the gateway from.
     */
    Service gatewayService() {
        return new ServiceBuilder()
                .withNewMetadata().withNamespace(GATEWAY_NAMESPACE).withName(GATEWAY_SERVICE).endMetadata()
                .withNewSpec().withType("LoadBalancer").withSelector(Map.of("app", GATEWAY_SERVICE))
                .addNewPort().withName("tls-passthrough").withPort(DemoNetwork.EASTWEST_PORT).withProtocol("TCP")
                .withNewTargetPort(DemoNetwork.EASTWEST_PORT).endPort()
                .addNewPort().withName("tls-mtls").withPort(DemoNetwork.EASTWEST_MTLS_PORT).withProtocol("TCP")
                .withNewTargetPort(DemoNetwork.EASTWEST_MTLS_PORT).endPort()
                .endSpec()
                .withNewStatus().withNewLoadBalancer().addNewIngress().withIp(network.gatewayIp(index)).endIngress()
                .endLoadBalancer().endStatus()
                .build();
    }

    /** Where every demo cluster publishes its own root ({@code trust.federation.rootsFrom}, the defaults). */
    static final String ROOTS_CONFIGMAP = "meshgate-root";
    static final String ROOTS_KEY = "root-cert.pem";
    /** What each gateway writes into its own cluster ({@code trust.federation.publish}, the defaults). */
    static final String PUBLISHED_CONFIGMAP = "meshgate-federated-bundle";
    static final String PUBLISHED_KEY = "bundle.pem";
    /** The demo's short {@code trust.federation.removalGrace} (production default: 1h). */
    static final java.time.Duration REMOVAL_GRACE = java.time.Duration.ofSeconds(3);

    /** Publishes this cluster's own root in its API server, where every gateway reads it. */
    void publishRoot() {
        apply(new io.fabric8.kubernetes.api.model.ConfigMapBuilder().withNewMetadata().withNamespace(GATEWAY_NAMESPACE)
                .withName(ROOTS_CONFIGMAP).endMetadata().addToData(ROOTS_KEY, io.meshgate.tls.Pem.encode(ca.rootCert())).build());
    }

    /** The PEM of this cluster's root, as published. */
    String rootPem() {
        return io.meshgate.tls.Pem.encode(ca.rootCert()).trim();
    }

    /** The federated bundle this cluster's gateway published in its API server, or "" when none yet. */
    String publishedBundle() {
        var cm = api.admin().configMaps().inNamespace(GATEWAY_NAMESPACE).withName(PUBLISHED_CONFIGMAP).get();
        return cm == null || cm.getData() == null ? "" : cm.getData().getOrDefault(PUBLISHED_KEY, "");
    }

    /** The remote Secret that joins this cluster to another one's gateway (what `meshgate remote-secret` prints). */
    io.fabric8.kubernetes.api.model.Secret remoteSecret() {
        return new io.fabric8.kubernetes.api.model.SecretBuilder().withNewMetadata().withNamespace(GATEWAY_NAMESPACE)
                .withName("meshgate-remote-" + name).addToLabels(io.meshgate.routing.kubernetes.RemoteSecrets.LABEL, "true")
                .addToAnnotations(io.meshgate.routing.kubernetes.RemoteSecrets.NAME_ANNOTATION, name).endMetadata()
                .addToStringData("kubeconfig", api.kubeconfig(name)).build();
    }

    void delete(HasMetadata... objects) {
        api.delete(objects);
    }

    /** Writes this cluster's kubeconfig into {@code folder} (the gateway of every cluster gets one). */
    Path writeKubeconfig(Path folder) throws IOException {
        Files.createDirectories(folder);
        return api.writeKubeconfig(folder.resolve(name + ".kubeconfig"), name);
    }

    /**
     * Writes {@code meshgate.yaml} for this cluster, with {@code remotes} as remote clusters
     * reached through their API servers, and the gateway's certificate; returns the file.
     */
    Path writeConfig(List<DemoCluster> remotes) throws PkiException, IOException {
        // The routing name as a DNS name too, only so that curl's host name check passes in --keep-running.
        issue("meshgate", GATEWAY_ID.toString(), GATEWAY_SERVICE + "." + GATEWAY_NAMESPACE + ".svc", Demo.SNI);
        writeKubeconfig(dir);
        StringBuilder clusters = new StringBuilder();
        clusters.append("    - name: ").append(name).append('\n')
                .append("      kubeconfig: ").append(name).append(".kubeconfig\n");
        for (DemoCluster remote : remotes) {
            remote.writeKubeconfig(dir);
            clusters.append("    - name: ").append(remote.name).append('\n')
                    .append("      kubeconfig: ").append(remote.name).append(".kubeconfig\n");
            clusters.append("      remote: true            # its gateway: from its Service ")
                    .append(GATEWAY_NAMESPACE).append('/').append(GATEWAY_SERVICE).append('\n');
        }
        String ip = network.gatewayIp(index);
        String listeners = listener("eastwest", ip, DemoNetwork.EASTWEST_PORT, "passthrough",
                "from other clusters: local endpoints only")
                + listener("eastwest-mtls", ip, DemoNetwork.EASTWEST_MTLS_PORT, "terminate",
                "the same, mTLS terminated here: caller in XFCC")
                + listener("egress", ip, DemoNetwork.EGRESS_PORT, "egress",
                "from this cluster's workloads: local, else a remote gateway");
        String yaml = """
                # meshgate for %1$s, written by `meshgate demo`: the file a user writes, started as
                # `meshgate run --config %2$s`.
                clusterDomain: %3$s
                listeners:
                %4$sadmin:
                  address: "%5$s:%6$d"
                tls:
                  certificateChain: meshgate/cert-chain.pem
                  privateKey: meshgate/key.pem
                  trustBundle: ../%7$s
                  upstream: mtls
                discovery:
                  egressPolicy: local-first
                  export: labelled          # only Services labelled meshgate.io/export: "true" (or in a labelled namespace)
                  clusters:
                %8$s  remoteSecrets:            # more clusters join by a labelled Secret in this namespace
                    namespace: %9$s
                trust:
                  federation:               # every cluster's root read from its API server (%9$s/%10$s), the
                    removalGrace: %11$ds     # union published here as %9$s/%12$s; short for the demo (default 1h)
                timeouts:
                  connect: 2s
                  drain: 1s
                runtime:
                  warmupConnections: 2000   # both clusters' gateways run in one JVM: a shorter JIT warm-up (default 10000)
                """.formatted(name, dir.resolve("meshgate.yaml"), TRUST_DOMAIN, listeners, ip, DemoNetwork.ADMIN_PORT,
                bundle.getFileName(), clusters, GATEWAY_NAMESPACE, ROOTS_CONFIGMAP, REMOVAL_GRACE.toSeconds(),
                PUBLISHED_CONFIGMAP);
        Path file = dir.resolve("meshgate.yaml");
        Files.writeString(file, yaml);
        return file;
    }

    private static String listener(String name, String ip, int port, String mode, String comment) {
        return String.format("  %-70s # %s%n", "- {name: " + name + ", address: \"" + ip + ":" + port + "\", mode: " + mode + "}",
                comment);
    }

    /** Loads {@code meshgate.yaml} as {@code meshgate run} does and starts the gateway in-process. */
    Gateway startGateway() throws InterruptedException {
        Path file = dir.resolve("meshgate.yaml");
        MeshgateConfig config = ConfigLoader.load(file);
        Gateway g = new Gateway(config, file);
        started.add(g);
        g.start();
        gateway = g;
        return g;
    }

    Gateway gateway() {
        return gateway;
    }

    InetSocketAddress listener(int port) {
        return network.gateway(index, port);
    }

    InetSocketAddress admin() {
        return network.gateway(index, DemoNetwork.ADMIN_PORT);
    }

    String gatewayIp() {
        return network.gatewayIp(index);
    }

    /** Closes the gateway alone: before any API server it watches goes away, so no watch breaks. */
    void stopGateway() {
        if (gateway != null) {
            started.remove(gateway);
            gateway.close();
            gateway = null;
        }
    }

    /** Closes what is left, last started first (pods before the API server). */
    @Override
    public void close() {
        List<AutoCloseable> order = new ArrayList<>(started);
        java.util.Collections.reverse(order);
        for (AutoCloseable c : order) {
            try {
                c.close();
            } catch (Exception e) {
                // closing is best effort; the demo reports its steps, not its shutdown
            }
        }
        started.clear();
    }
}
