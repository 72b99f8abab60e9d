package io.meshgate.gateway.config;

import io.meshgate.gateway.config.GatewaySpec.AccessLogSpec;
import io.meshgate.gateway.config.GatewaySpec.BalancingPolicy;
import io.meshgate.gateway.config.GatewaySpec.Http2Spec;
import io.meshgate.gateway.config.GatewaySpec.BalancingSpec;
import io.meshgate.gateway.config.GatewaySpec.ClusterSpec;
import io.meshgate.gateway.config.GatewaySpec.DiscoverySpec;
import io.meshgate.gateway.config.GatewaySpec.FederationSpec;
import io.meshgate.gateway.config.GatewaySpec.PublishSpec;
import io.meshgate.gateway.config.GatewaySpec.RootsSourceSpec;
import io.meshgate.gateway.config.GatewaySpec.LimitsSpec;
import io.meshgate.gateway.config.GatewaySpec.ListenerMode;
import io.meshgate.gateway.config.GatewaySpec.ListenerSpec;
import io.meshgate.gateway.config.GatewaySpec.RuntimeSpec;
import io.meshgate.gateway.config.GatewaySpec.SpliceMode;
import io.meshgate.gateway.config.GatewaySpec.TimeoutsSpec;
import io.meshgate.gateway.config.GatewaySpec.TlsSpec;
import io.meshgate.gateway.config.GatewaySpec.TransportKind;
import io.meshgate.gateway.config.GatewaySpec.UpstreamTls;
import io.meshgate.gateway.config.GatewaySpec.WarmupSpec;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.meshgate.routing.kubernetes.ExportPolicy;
import io.meshgate.tls.AllowedIdentities;
import io.meshgate.tls.SpiffeId;
import io.meshgate.tls.TlsFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Turns the YAML records ({@link MeshgateConfig}) into a {@link GatewaySpec}: one method per
 * section, each validating its keys and converting them once, every error a {@link ConfigException}
 * that names the key (exit code 2). A new section is one more record in {@link MeshgateConfig},
 * one more method here and one more component of the spec.
 */
public final class ConfigBinder {

    private final Path base;
    private final boolean checkFiles;

    /**
     * @param base       the config file; relative paths resolve against its folder (null: the working directory)
     * @param checkFiles whether referenced files must exist (false for configs checked away from where
     *                   they run, e.g. the shipped Kubernetes manifests)
     */
    private ConfigBinder(Path base, boolean checkFiles) {
        this.base = base;
        this.checkFiles = checkFiles;
    }

    /** Validates {@code raw} and returns it typed and resolved. */
    public static GatewaySpec bind(MeshgateConfig raw, Path base) {
        return bind(raw, base, true);
    }

    /** As {@link #bind(MeshgateConfig, Path)}; {@code checkFiles = false} skips the existence of referenced files. */
    public static GatewaySpec bind(MeshgateConfig raw, Path base, boolean checkFiles) {
        return new ConfigBinder(base, checkFiles).bindAll(raw);
    }

    private GatewaySpec bindAll(MeshgateConfig raw) {
        if (raw.clusterDomain().isBlank()) {
            throw new ConfigException("clusterDomain: must not be empty");
        }
        List<ListenerSpec> listeners = listeners(raw.listeners());
        HostPort admin = admin(raw.admin(), listeners);
        boolean terminates = listeners.stream().anyMatch(l -> l.mode() == ListenerMode.TERMINATE);
        Optional<TlsSpec> tls = tls(raw.tls(), terminates);
        DiscoverySpec discovery = discovery(raw.discovery());
        TimeoutsSpec timeouts = timeouts(raw.timeouts());
        RuntimeSpec runtime = runtime(raw.runtime());
        LimitsSpec limits = limits(raw.limits());
        BalancingSpec balancing = balancing(raw.loadBalancing());
        if (runtime.workers() < 0) {
            throw new ConfigException("runtime.workers: must not be negative (0 = available processors)");
        }
        spliceThreshold(runtime);
        Optional<AccessLogSpec> accessLog = accessLog(raw.accessLog());
        Http2Spec http2 = http2(raw.http2());
        Optional<FederationSpec> federation = federation(raw.trust().federation(), discovery);
        return new GatewaySpec(raw.clusterDomain(), listeners, admin, tls, discovery, timeouts, limits, balancing,
                runtime.workers() > 0 ? runtime : new RuntimeSpec(java.lang.Runtime.getRuntime().availableProcessors(),
                        runtime.transport(), runtime.splice(), runtime.spliceThreshold(), runtime.warmup(), runtime.busyPoll(),
                        runtime.adaptivePoll(), runtime.directPassthrough()),
                accessLog, http2, federation);
    }

    private List<ListenerSpec> listeners(List<MeshgateConfig.ListenerConfig> raw) {
        if (raw.isEmpty()) {
            throw new ConfigException("listeners: at least one listener is required");
        }
        Set<String> names = new HashSet<>();
        Map<Integer, String> ports = new HashMap<>();
        List<ListenerSpec> specs = new ArrayList<>();
        for (int i = 0; i < raw.size(); i++) {
            MeshgateConfig.ListenerConfig l = raw.get(i);
            String key = "listeners[" + i + "]";
            if (l.name() == null || l.name().isBlank()) {
                throw new ConfigException(key + ".name: required");
            }
            if (!names.add(l.name())) {
                throw new ConfigException(key + ".name: duplicate listener name '" + l.name() + "'");
            }
            HostPort hp = address(key + ".address", l.address());
            String other = ports.putIfAbsent(hp.port(), l.name());
            if (other != null && hp.port() != 0) {
                throw new ConfigException(key + ".address: port " + hp.port() + " is already used by listener '" + other + "'");
            }
            if (l.maxConnections() < 1) {
                throw new ConfigException(key + ".maxConnections: must be at least 1");
            }
            specs.add(new ListenerSpec(l.name(), hp, ListenerMode.valueOf(l.mode().name()), l.maxConnections()));
        }
        return specs;
    }

    private HostPort admin(MeshgateConfig.Admin raw, List<ListenerSpec> listeners) {
        HostPort address = address("admin.address", raw.address());
        if (address.port() != 0) {
            for (ListenerSpec l : listeners) {
                if (l.address().port() == address.port()) {
                    throw new ConfigException("admin.address: port " + address.port() + " is already used by listener '"
                            + l.name() + "'");
                }
            }
        }
        return address;
    }

    private Optional<TlsSpec> tls(MeshgateConfig.Tls raw, boolean required) {
        if (raw == null) {
            if (required) {
                throw new ConfigException("tls: required because a listener has mode: terminate");
            }
            return Optional.empty();
        }
        TlsFiles files = new TlsFiles(file("tls.certificateChain", raw.certificateChain()),
                file("tls.privateKey", raw.privateKey()), file("tls.trustBundle", raw.trustBundle()));
        for (int i = 0; i < raw.allowedTrustDomains().size(); i++) {
            String problem = SpiffeId.trustDomainProblem(raw.allowedTrustDomains().get(i));
            if (problem != null) {
                throw new ConfigException("tls.allowedTrustDomains[" + i + "]: " + problem);
            }
        }
        return Optional.of(new TlsSpec(files, UpstreamTls.valueOf(raw.upstream().name()), Set.copyOf(raw.allowedTrustDomains()),
                allowedIdentities(raw)));
    }

    /**
     * {@code tls.allowedIdentities}: each entry an exact SPIFFE ID or a prefix ending in {@code *};
     * with {@code allowedTrustDomains} set, an entry outside them could never match and is refused.
     */
    private AllowedIdentities allowedIdentities(MeshgateConfig.Tls raw) {
        List<String> entries = raw.allowedIdentities();
        for (int i = 0; i < entries.size(); i++) {
            String key = "tls.allowedIdentities[" + i + "]";
            String problem = AllowedIdentities.problem(entries.get(i));
            if (problem != null) {
                throw new ConfigException(key + ": '" + entries.get(i) + "': " + problem);
            }
            String trustDomain = AllowedIdentities.trustDomainOf(entries.get(i));
            if (!raw.allowedTrustDomains().isEmpty() && !raw.allowedTrustDomains().contains(trustDomain)) {
                throw new ConfigException(key + ": '" + entries.get(i) + "': trust domain " + trustDomain
                        + " is not in tls.allowedTrustDomains " + raw.allowedTrustDomains() + ", so no caller could match it");
            }
        }
        return AllowedIdentities.of(entries);
    }

    private DiscoverySpec discovery(MeshgateConfig.Discovery raw) {
        if (raw.remoteSecrets() != null && raw.clusters().stream().allMatch(MeshgateConfig.Cluster::remote)) {
            throw new ConfigException("discovery.remoteSecrets: needs a local cluster (a discovery.clusters entry without remote: true) to read Secrets from");
        }
        List<ClusterSpec> clusters = new ArrayList<>();
        Set<String> clusterNames = new HashSet<>();
        for (int i = 0; i < raw.clusters().size(); i++) {
            clusters.add(cluster("discovery.clusters[" + i + "]", raw.clusters().get(i), clusterNames));
        }
        List<StaticRoutes.StaticService> statics = new ArrayList<>();
        Set<String> services = new HashSet<>();
        for (int i = 0; i < raw.staticServices().size(); i++) {
            statics.add(staticService("discovery.static[" + i + "]", raw.staticServices().get(i), services));
        }
        Router.EgressPolicy egress = raw.egressPolicy() == MeshgateConfig.EgressPolicy.SPREAD
                ? Router.EgressPolicy.SPREAD : Router.EgressPolicy.LOCAL_FIRST;
        ExportPolicy export;
        try {
            export = ExportPolicy.of(raw.export());
        } catch (IllegalArgumentException e) {
            throw new ConfigException("discovery.export: " + e.getMessage());
        }
        return new DiscoverySpec(clusters, statics, raw.namespaces(), egress,
                Optional.ofNullable(raw.remoteSecrets()).map(MeshgateConfig.RemoteSecretsConfig::namespace), export);
    }

    private ClusterSpec cluster(String key, MeshgateConfig.Cluster c, Set<String> names) {
        if (c.name() == null || c.name().isBlank()) {
            throw new ConfigException(key + ".name: required");
        }
        if (!names.add(c.name())) {
            throw new ConfigException(key + ".name: duplicate cluster name '" + c.name() + "'");
        }
        Optional<Path> kubeconfig = c.kubeconfig() == null ? Optional.empty()
                : Optional.of(file(key + ".kubeconfig", c.kubeconfig()));
        if (!c.remote() && (c.gateway() != null)) {
            throw new ConfigException(key + ".gateway: only a remote cluster (remote: true) has a gateway address");
        }
        if (c.remote() && c.kubeconfig() == null) {
            throw new ConfigException(key + ".kubeconfig: required for a remote cluster");
        }
        Optional<Endpoint> gateway = c.gateway() == null ? Optional.empty() : Optional.of(endpoint(key + ".gateway", c.gateway()));
        String[] svc = c.gatewayService().split("/", -1);
        if (svc.length != 2 || svc[0].isBlank() || svc[1].isBlank()) {
            throw new ConfigException(key + ".gatewayService: '" + c.gatewayService() + "' is not namespace/name");
        }
        return new ClusterSpec(key, c.name(), kubeconfig, c.remote(), gateway, c.gatewayService());
    }

    private static StaticRoutes.StaticService staticService(String key, MeshgateConfig.StaticService s, Set<String> seen) {
        if (s.host() == null || s.host().isBlank()) {
            throw new ConfigException(key + ".host: required");
        }
        if (s.port() == null || s.port() < 1 || s.port() > 65535) {
            throw new ConfigException(key + ".port: required, 1-65535");
        }
        if (!seen.add(s.host().toLowerCase(Locale.ROOT) + ":" + s.port())) {
            throw new ConfigException(key + ": duplicate entry for " + s.host() + ":" + s.port());
        }
        if (s.endpoints().isEmpty()) {
            throw new ConfigException(key + ".endpoints: at least one ip:port is required");
        }
        List<Endpoint> endpoints = new ArrayList<>();
        for (int j = 0; j < s.endpoints().size(); j++) {
            endpoints.add(endpoint(key + ".endpoints[" + j + "]", s.endpoints().get(j)));
        }
        AppProtocol protocol = switch (s.protocol()) {
            case "tcp" -> AppProtocol.TCP;
            case "http" -> AppProtocol.HTTP;
            case "http2" -> AppProtocol.HTTP2;
            case "grpc" -> AppProtocol.GRPC;
            default -> throw new ConfigException(key + ".protocol: '" + s.protocol() + "' is not tcp, http, http2 or grpc");
        };
        return new StaticRoutes.StaticService(s.host(), s.port(), endpoints, protocol);
    }

    /** {@code accessLog.*}: a non-empty path whose folder exists, a queue of 16 to 1048576 lines. */
    private Optional<AccessLogSpec> accessLog(MeshgateConfig.AccessLog raw) {
        if (raw == null) {
            return Optional.empty();
        }
        if (raw.path().isBlank()) {
            throw new ConfigException("accessLog.path: must be stdout or a file");
        }
        if (raw.queueSize() < 16 || raw.queueSize() > 1 << 20) {
            throw new ConfigException("accessLog.queueSize: must be between 16 and 1048576 lines");
        }
        if (MeshgateConfig.AccessLog.STDOUT.equals(raw.path())) {
            return Optional.of(new AccessLogSpec(Optional.empty(), raw.queueSize()));
        }
        Path file = resolve(base, raw.path()).toAbsolutePath();
        if (checkFiles) {
            Path folder = file.getParent();
            if (folder == null || !Files.isDirectory(folder)) {
                throw new ConfigException("accessLog.path: folder " + folder + " does not exist");
            }
            if (Files.isDirectory(file)) {
                throw new ConfigException("accessLog.path: " + file + " is a directory");
            }
        }
        return Optional.of(new AccessLogSpec(Optional.of(file), raw.queueSize()));
    }

    /** The {@code http2} block's defaults (an empty block). */
    public static Http2Spec http2Defaults() {
        return http2(new MeshgateConfig.Http2(null, null, null, null, null, null, null, null, null, null, null, null, null, null));
    }

    /** {@code http2.*}: RFC 9113 ranges (a connection window at least the RFC's 65535). */
    private static Http2Spec http2(MeshgateConfig.Http2 raw) {
        Duration resetWindow = duration("http2.resetFramesWindow", raw.resetFramesWindow(), Defaults.H2_RESET_FRAMES_WINDOW);
        Http2Spec spec = new Http2Spec(
                range("http2.maxConcurrentStreams", raw.maxConcurrentStreams(), Defaults.H2_MAX_CONCURRENT_STREAMS, 1, 10_000),
                range("http2.initialStreamWindow", raw.initialStreamWindow(), Defaults.H2_INITIAL_STREAM_WINDOW, 1024, Integer.MAX_VALUE),
                range("http2.initialConnectionWindow", raw.initialConnectionWindow(), Defaults.H2_INITIAL_CONNECTION_WINDOW,
                        65_535, Integer.MAX_VALUE),
                range("http2.maxHeaderListSize", raw.maxHeaderListSize(), Defaults.H2_MAX_HEADER_LIST_SIZE, 1024, 1024 * 1024),
                duration("http2.maxConnectionAge", raw.maxConnectionAge(), Defaults.H2_MAX_CONNECTION_AGE),
                duration("http2.drainNotice", raw.drainNotice(), Defaults.H2_DRAIN_NOTICE),
                range("http2.upstreamMaxConcurrentStreams", raw.upstreamMaxConcurrentStreams(),
                        Defaults.H2_UPSTREAM_MAX_CONCURRENT_STREAMS, 1, 10_000),
                range("http2.prematureResetMinStreams", raw.prematureResetMinStreams(), Defaults.H2_PREMATURE_RESET_MIN_STREAMS,
                        1, Integer.MAX_VALUE),
                duration("http2.prematureResetMinLifetime", raw.prematureResetMinLifetime(),
                        Defaults.H2_PREMATURE_RESET_MIN_LIFETIME),
                range("http2.maxResetFramesPerWindow", raw.maxResetFramesPerWindow(), Defaults.H2_MAX_RESET_FRAMES_PER_WINDOW,
                        1, Integer.MAX_VALUE),
                resetWindow,
                range("http2.maxQueuedControlFrames", raw.maxQueuedControlFrames(), Defaults.H2_MAX_QUEUED_CONTROL_FRAMES,
                        1, Integer.MAX_VALUE),
                range("http2.maxConsecutiveEmptyDataFrames", raw.maxConsecutiveEmptyDataFrames(),
                        Defaults.H2_MAX_CONSECUTIVE_EMPTY_DATA_FRAMES, 1, Integer.MAX_VALUE),
                range("http2.notSentLowWatermark", raw.notSentLowWatermark(), Defaults.H2_NOT_SENT_LOW_WATERMARK,
                        0, Integer.MAX_VALUE));
        if (resetWindow.toSeconds() < 1) {
            throw new ConfigException("http2.resetFramesWindow: must be at least 1s");
        }
        return spec;
    }

    /** Kubernetes object names (DNS-1123 subdomain), namespaces (DNS-1123 label) and data keys. */
    private static final java.util.regex.Pattern DNS_SUBDOMAIN =
            java.util.regex.Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    private static final java.util.regex.Pattern DNS_LABEL = java.util.regex.Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
    private static final java.util.regex.Pattern DATA_KEY = java.util.regex.Pattern.compile("[-._a-zA-Z0-9]+");

    /**
     * {@code trust.federation.*}: Kubernetes names that the API server would accept, a non-negative
     * grace, and a local cluster to publish into (and to read its own roots from).
     */
    private static Optional<FederationSpec> federation(MeshgateConfig.Federation raw, DiscoverySpec discovery) {
        if (raw == null) {
            return Optional.empty();
        }
        if (discovery.clusters().stream().allMatch(ClusterSpec::remote)) {
            throw new ConfigException("trust.federation: needs a local cluster (a discovery.clusters entry without remote: true) "
                    + "to publish the federated bundle into");
        }
        MeshgateConfig.RootsFrom from = raw.rootsFrom();
        if (!"ConfigMap".equals(from.kind()) && !"Secret".equals(from.kind())) {
            throw new ConfigException("trust.federation.rootsFrom.kind: '" + from.kind() + "' is not ConfigMap or Secret");
        }
        RootsSourceSpec rootsFrom = new RootsSourceSpec(from.kind(),
                kubeName("trust.federation.rootsFrom.namespace", from.namespace(), DNS_LABEL, 63),
                kubeName("trust.federation.rootsFrom.name", from.name(), DNS_SUBDOMAIN, 253),
                kubeName("trust.federation.rootsFrom.key", from.key(), DATA_KEY, 253));
        MeshgateConfig.Publish pub = raw.publish();
        PublishSpec publish = new PublishSpec(
                kubeName("trust.federation.publish.namespace", pub.namespace(), DNS_LABEL, 63),
                kubeName("trust.federation.publish.name", pub.name(), DNS_SUBDOMAIN, 253),
                kubeName("trust.federation.publish.key", pub.key(), DATA_KEY, 253),
                pub.clusterTrustBundle(), Defaults.FEDERATION_SIGNER_NAME);
        Duration grace = duration("trust.federation.removalGrace", raw.removalGrace(), Defaults.FEDERATION_REMOVAL_GRACE);
        return Optional.of(new FederationSpec(rootsFrom, publish, grace));
    }

    private static String kubeName(String key, String value, java.util.regex.Pattern pattern, int maxLength) {
        if (value.isEmpty() || value.length() > maxLength || !pattern.matcher(value).matches()) {
            throw new ConfigException(key + ": '" + value + "' is not a valid Kubernetes "
                    + (pattern == DATA_KEY ? "data key" : pattern == DNS_LABEL ? "namespace" : "object name"));
        }
        return value;
    }

    private static int range(String key, Integer value, int fallback, int min, int max) {
        int v = value == null ? fallback : value;
        if (v < min || v > max) {
            throw new ConfigException(key + ": must be between " + min + " and " + max);
        }
        return v;
    }

    private static TimeoutsSpec timeouts(MeshgateConfig.Timeouts raw) {
        return new TimeoutsSpec(
                duration("timeouts.clientHello", raw.clientHello(), Defaults.CLIENT_HELLO_TIMEOUT),
                duration("timeouts.connect", raw.connect(), Defaults.CONNECT_TIMEOUT),
                duration("timeouts.idle", raw.idle(), Defaults.IDLE_TIMEOUT),
                duration("timeouts.drain", raw.drain(), Defaults.DRAIN_TIMEOUT),
                duration("timeouts.tlsHandshake", raw.tlsHandshake(), Defaults.TLS_HANDSHAKE_TIMEOUT));
    }

    private static RuntimeSpec runtime(MeshgateConfig.Runtime raw) {
        WarmupSpec warmup = warmup(raw);
        TransportKind transport = TransportKind.valueOf(raw.transport().name());
        String poll = raw.busyPoll() == null ? Defaults.BUSY_POLL : raw.busyPoll().trim();
        boolean adaptive = poll.equalsIgnoreCase(Defaults.BUSY_POLL_AUTO);
        Duration busyPoll = adaptive
                ? transport == TransportKind.IO_URING ? Duration.ZERO : Defaults.ADAPTIVE_POLL_WINDOW
                : atMost("runtime.busyPoll", duration("runtime.busyPoll (auto, 0s or a duration)", poll, "0s"),
                        "10ms", "timers wait up to one window");
        if (!busyPoll.isZero() && transport == TransportKind.IO_URING) {
            throw new ConfigException("runtime.busyPoll: not available with runtime.transport: io_uring (use epoll or nio)");
        }
        return new RuntimeSpec(raw.workers(), transport, SpliceMode.valueOf(raw.splice().name()), raw.spliceThreshold(),
                warmup, busyPoll, adaptive && !busyPoll.isZero(), raw.directPassthrough());
    }

    /**
     * {@code runtime.warmup} (the least time), {@code runtime.warmupConnections} (the count to reach,
     * 0 = the time alone) and {@code runtime.warmupMax} (the cap on both). Left out, the cap is the
     * larger of its default and {@code runtime.warmup}, so a long {@code warmup} alone stays valid.
     */
    private static WarmupSpec warmup(MeshgateConfig.Runtime raw) {
        Duration budget = atMost("runtime.warmup", duration("runtime.warmup", raw.warmup(), Defaults.WARMUP),
                "1m", "it delays readiness");
        Integer count = raw.warmupConnections();
        if (count != null && count < 0) {
            throw new ConfigException("runtime.warmupConnections: must not be negative (0 = runtime.warmup alone)");
        }
        int connections = range("runtime.warmupConnections", count, Defaults.WARMUP_CONNECTIONS, 0, 100_000);
        Duration max;
        if (raw.warmupMax() == null) {
            Duration fallback = Durations.parse(Defaults.WARMUP_MAX);
            max = budget.compareTo(fallback) > 0 ? budget : fallback;
        } else {
            max = atMost("runtime.warmupMax", duration("runtime.warmupMax", raw.warmupMax(), Defaults.WARMUP_MAX),
                    "1m", "it delays readiness");
            if (max.compareTo(budget) < 0) {
                throw new ConfigException("runtime.warmupMax: " + raw.warmupMax() + " is shorter than runtime.warmup ("
                        + Durations.format(budget) + ")");
            }
        }
        return new WarmupSpec(budget, connections, max);
    }

    private static LimitsSpec limits(MeshgateConfig.Limits raw) {
        if (raw.clientHelloMaxBytes() < 512 || raw.clientHelloMaxBytes() > 16 * 1024 * 1024) {
            throw new ConfigException("limits.clientHelloMaxBytes: must be between 512 and 16777216");
        }
        if (raw.upstreamPoolSize() < 0) {
            throw new ConfigException("limits.upstreamPoolSize: must not be negative");
        }
        return new LimitsSpec(raw.clientHelloMaxBytes(), raw.upstreamPoolSize());
    }

    private static BalancingSpec balancing(MeshgateConfig.LoadBalancing raw) {
        if (raw.connectAttempts() < 1) {
            throw new ConfigException("loadBalancing.connectAttempts: must be at least 1");
        }
        return new BalancingSpec(BalancingPolicy.valueOf(raw.policy().name()), raw.connectAttempts());
    }

    /** Checked last, after the limits (the order errors were always reported in). */
    private static void spliceThreshold(RuntimeSpec runtime) {
        if (runtime.spliceThreshold() < 1024 || runtime.spliceThreshold() > 65536) {
            // Netty reads at most 64 KiB at a time: a larger threshold would never be reached.
            throw new ConfigException("runtime.spliceThreshold: must be between 1024 and 65536 bytes");
        }
    }

    /** A path from the config, resolved against the config file's folder. */
    public static Path resolve(Path base, String file) {
        Path p = Path.of(file);
        if (p.isAbsolute() || base == null) {
            return p;
        }
        Path dir = base.toAbsolutePath().getParent();
        return dir == null ? p : dir.resolve(p);
    }

    private static HostPort address(String key, String value) {
        if (value == null) {
            throw new ConfigException(key + ": required");
        }
        try {
            return HostPort.parse(value);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(key + ": " + e.getMessage());
        }
    }

    private static Endpoint endpoint(String key, String value) {
        try {
            return Endpoint.parse(value);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(key + ": " + e.getMessage());
        }
    }

    private Path file(String key, String value) {
        if (value == null || value.isBlank()) {
            throw new ConfigException(key + ": required");
        }
        Path p = resolve(base, value);
        if (checkFiles && !Files.isReadable(p)) {
            throw new ConfigException(key + ": file " + p + " does not exist or is not readable");
        }
        return p;
    }

    /** A duration key (or its default), never negative. */
    private static Duration duration(String key, String value, String fallback) {
        Duration d;
        try {
            d = Durations.parse(value == null ? fallback : value);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(key + ": " + e.getMessage());
        }
        if (d.isNegative()) {
            throw new ConfigException(key + ": must not be negative");
        }
        return d;
    }

    private static Duration atMost(String key, Duration value, String max, String why) {
        if (value.compareTo(Durations.parse(max)) > 0) {
            throw new ConfigException(key + ": at most " + max + " (" + why + ")");
        }
        return value;
    }
}
