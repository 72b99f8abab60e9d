package io.meshgate.gateway.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The whole {@code meshgate.yaml} (CONTRACT "Config" plus the documented additions). Immutable;
 * {@link ConfigLoader} parses and {@link #validate(Path)} checks it before anything starts.
 */
public record MeshgateConfig(
        String clusterDomain,
        List<Listener> listeners,
        Admin admin,
        Tls tls,
        Discovery discovery,
        Timeouts timeouts,
        Limits limits,
        LoadBalancing loadBalancing,
        Runtime runtime,
        Http2 http2) {

    public MeshgateConfig {
        clusterDomain = clusterDomain == null ? "cluster.local" : clusterDomain;
        listeners = listeners == null ? List.of() : List.copyOf(listeners);
        admin = admin == null ? new Admin(null) : admin;
        discovery = discovery == null ? new Discovery(null, null, null, null, null) : discovery;
        timeouts = timeouts == null ? new Timeouts(null, null, null, null, null) : timeouts;
        limits = limits == null ? new Limits(null, null) : limits;
        loadBalancing = loadBalancing == null ? new LoadBalancing(null, null) : loadBalancing;
        runtime = runtime == null ? new Runtime(null, null, null, null, null, null) : runtime;
        http2 = http2 == null ? new Http2(null, null, null, null, null, null, null, null, null, null, null, null, null) : http2;
    }

    /** This config with {@code runtime.warmup: 0s}. */
    public MeshgateConfig withoutWarmup() {
        return new MeshgateConfig(clusterDomain, listeners, admin, tls, discovery, timeouts, limits, loadBalancing,
                runtime.withoutWarmup(), http2);
    }

    /** How a listener treats the TLS stream. */
    public enum ListenerMode {
        /** Route on the SNI and relay the TLS stream untouched. */
        @JsonProperty("passthrough") PASSTHROUGH,
        /** Terminate mTLS, authorize the caller's SPIFFE identity, re-originate to the endpoint. */
        @JsonProperty("terminate") TERMINATE,
        /**
         * For callers inside the cluster: passthrough to local endpoints when there are healthy ones,
         * else to a remote cluster's east-west gateway (SNI unchanged).
         */
        @JsonProperty("egress") EGRESS
    }

    /** How the gateway talks to endpoints of terminated connections. */
    public enum UpstreamTls {
        @JsonProperty("mtls") MTLS,
        @JsonProperty("plaintext") PLAINTEXT
    }

    /** How an endpoint is picked among a service's endpoints. */
    public enum BalancingPolicy {
        /** Power of two random choices by active connections. */
        @JsonProperty("least-connections") LEAST_CONNECTIONS,
        @JsonProperty("round-robin") ROUND_ROBIN
    }

    /** Which Netty transport runs the event loops. */
    public enum Transport {
        @JsonProperty("auto") AUTO,
        @JsonProperty("epoll") EPOLL,
        @JsonProperty("io_uring") IO_URING,
        @JsonProperty("nio") NIO
    }

    public record Listener(String name, String address, ListenerMode mode, Integer maxConnections) {
        public static final int DEFAULT_MAX_CONNECTIONS = 16_384;

        public Listener {
            mode = mode == null ? ListenerMode.PASSTHROUGH : mode;
            maxConnections = maxConnections == null ? DEFAULT_MAX_CONNECTIONS : maxConnections;
        }

        public HostPort hostPort() {
            return HostPort.parse(address);
        }
    }

    public record Admin(String address) {
        public Admin {
            address = address == null ? "127.0.0.1:15000" : address;
        }

        public HostPort hostPort() {
            return HostPort.parse(address);
        }
    }

    public record Tls(String certificateChain, String privateKey, String trustBundle, UpstreamTls upstream,
                      List<String> allowedTrustDomains) {
        public Tls {
            upstream = upstream == null ? UpstreamTls.MTLS : upstream;
            allowedTrustDomains = allowedTrustDomains == null ? List.of() : List.copyOf(allowedTrustDomains);
        }
    }

    /**
     * @param namespaces namespaces whose Services the gateway exports; empty = all (see README)
     */
    public record Discovery(List<Cluster> clusters, @JsonProperty("static") List<StaticService> staticServices,
                            List<String> namespaces, EgressPolicy egressPolicy, RemoteSecrets remoteSecrets) {
        public Discovery {
            clusters = clusters == null ? List.of() : List.copyOf(clusters);
            staticServices = staticServices == null ? List.of() : List.copyOf(staticServices);
            namespaces = namespaces == null ? List.of() : List.copyOf(namespaces);
            egressPolicy = egressPolicy == null ? EgressPolicy.LOCAL_FIRST : egressPolicy;
        }
    }

    /** How an egress listener chooses between local endpoints and remote clusters. */
    public enum EgressPolicy {
        /** Local endpoints when there are healthy ones, else the remote cluster with the most. */
        @JsonProperty("local-first") LOCAL_FIRST,
        /** Clusters (local included) weighted by their healthy endpoint counts. */
        @JsonProperty("spread") SPREAD
    }

    /** Remote clusters added at runtime from labelled Secrets in the gateway's own namespace. */
    public record RemoteSecrets(String namespace) {
        public RemoteSecrets {
            namespace = namespace == null ? "meshgate-system" : namespace;
        }
    }

    /**
     * A Kubernetes cluster to read Services and EndpointSlices from; no kubeconfig = in-cluster.
     * A remote one also names its east-west gateway: fixed ({@code gateway}, wins) or discovered
     * from its meshgate LoadBalancer Service ({@code gatewayService}, default meshgate-system/meshgate).
     */
    public record Cluster(String name, String kubeconfig, Boolean remote, String gateway, String gatewayService) {
        public static final String DEFAULT_GATEWAY_SERVICE = "meshgate-system/meshgate";

        public Cluster {
            remote = remote != null && remote;
            gatewayService = gatewayService == null ? DEFAULT_GATEWAY_SERVICE : gatewayService;
        }

        public Cluster(String name, String kubeconfig) {
            this(name, kubeconfig, null, null, null);
        }
    }

    /** What a static entry's {@code protocol:} may say. */
    public static final List<String> STATIC_PROTOCOLS = List.of("tcp", "http", "http2", "grpc");

    public record StaticService(String host, Integer port, List<String> endpoints, String protocol) {
        public StaticService {
            endpoints = endpoints == null ? List.of() : List.copyOf(endpoints);
            protocol = protocol == null ? "tcp" : protocol;
        }
    }

    public record Timeouts(String clientHello, String connect, String idle, String drain, String tlsHandshake) {
        public Duration clientHelloDuration() {
            return parse(clientHello, "10s");
        }

        public Duration connectDuration() {
            return parse(connect, "5s");
        }

        public Duration idleDuration() {
            return parse(idle, "1h");
        }

        public Duration drainDuration() {
            return parse(drain, "30s");
        }

        public Duration tlsHandshakeDuration() {
            return parse(tlsHandshake, "10s");
        }

        private static Duration parse(String value, String fallback) {
            return Durations.parse(value == null ? fallback : value);
        }
    }

    public record Limits(Integer clientHelloMaxBytes, Integer upstreamPoolSize) {
        public static final int DEFAULT_CLIENT_HELLO_MAX_BYTES = 64 * 1024;

        public Limits {
            clientHelloMaxBytes = clientHelloMaxBytes == null ? DEFAULT_CLIENT_HELLO_MAX_BYTES : clientHelloMaxBytes;
            upstreamPoolSize = upstreamPoolSize == null ? 64 : upstreamPoolSize;
        }
    }

    public record LoadBalancing(BalancingPolicy policy, Integer connectAttempts) {
        public LoadBalancing {
            policy = policy == null ? BalancingPolicy.LEAST_CONNECTIONS : policy;
            connectAttempts = connectAttempts == null ? 3 : connectAttempts;
        }
    }

    /** How a passthrough relay moves bytes on native epoll (elsewhere it always copies). */
    public enum Splice {
        /** Copy small messages, splice a direction once it streams (a read of {@code spliceThreshold} or more). */
        AUTO,
        /** Splice every passthrough stream from the first byte after the hello. */
        ALWAYS,
        /** Always copy through pooled buffers. */
        OFF;

        /** {@code auto}, {@code always} or {@code off}; YAML booleans mean {@code always} / {@code off}. */
        @com.fasterxml.jackson.annotation.JsonCreator
        public static Splice of(String value) {
            return switch (value.trim().toLowerCase(java.util.Locale.ROOT)) {
                case "auto" -> AUTO;
                case "always", "true", "on" -> ALWAYS;
                case "off", "false", "never" -> OFF;
                default -> throw new IllegalArgumentException("runtime.splice: expected auto, always or off, got '" + value + "'");
            };
        }

        @com.fasterxml.jackson.annotation.JsonValue
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * @param workers         event-loop threads; 0 = available processors
     * @param splice          how passthrough streams use the kernel's splice (epoll only)
     * @param spliceThreshold read size in bytes that moves a direction to splice under {@code auto}
     * @param warmup          JIT warm-up budget before the listeners bind ({@code 0s}: none)
     * @param busyPoll        how long an event loop polls without blocking after work ({@code 0s}: off)
     */
    public record Runtime(Integer workers, Transport transport, Splice splice, Integer spliceThreshold, String warmup,
                          String busyPoll) {
        public Runtime {
            workers = workers == null ? 0 : workers;
            transport = transport == null ? Transport.AUTO : transport;
            splice = splice == null ? Splice.AUTO : splice;
            spliceThreshold = spliceThreshold == null ? io.meshgate.gateway.relay.AutoSpliceRelay.DEFAULT_THRESHOLD : spliceThreshold;
        }

        public Duration warmupDuration() {
            return Durations.parse(warmup == null ? "2s" : warmup);
        }

        public Duration busyPollDuration() {
            return Durations.parse(busyPoll == null ? "0s" : busyPoll);
        }

        /** The same runtime without the warm-up (tests that start many gateways). */
        public Runtime withoutWarmup() {
            return new Runtime(workers, transport, splice, spliceThreshold, "0s", busyPoll);
        }

        public int effectiveWorkers() {
            return workers > 0 ? workers : java.lang.Runtime.getRuntime().availableProcessors();
        }
    }

    /**
     * HTTP/2 on terminate listeners (downstream SETTINGS, the h2 upstream pool, drain, abuse limits).
     * Defaults follow Envoy's edge guidance; {@link #validateHttp2()} checks every key.
     */
    public record Http2(Integer maxConcurrentStreams, Integer initialStreamWindow, Integer initialConnectionWindow,
                        Integer maxHeaderListSize, String maxConnectionAge, String drainNotice,
                        Integer upstreamMaxConcurrentStreams, Integer prematureResetMinStreams,
                        String prematureResetMinLifetime, Integer maxResetFramesPerWindow, String resetFramesWindow,
                        Integer maxQueuedControlFrames, Integer maxConsecutiveEmptyDataFrames) {
        public Http2 {
            maxConcurrentStreams = maxConcurrentStreams == null ? 100 : maxConcurrentStreams;
            initialStreamWindow = initialStreamWindow == null ? 64 * 1024 : initialStreamWindow;
            initialConnectionWindow = initialConnectionWindow == null ? 1024 * 1024 : initialConnectionWindow;
            maxHeaderListSize = maxHeaderListSize == null ? 16 * 1024 : maxHeaderListSize;
            upstreamMaxConcurrentStreams = upstreamMaxConcurrentStreams == null ? 100 : upstreamMaxConcurrentStreams;
            prematureResetMinStreams = prematureResetMinStreams == null ? 500 : prematureResetMinStreams;
            maxResetFramesPerWindow = maxResetFramesPerWindow == null ? 1000 : maxResetFramesPerWindow;
            maxQueuedControlFrames = maxQueuedControlFrames == null ? 10_000 : maxQueuedControlFrames;
            maxConsecutiveEmptyDataFrames = maxConsecutiveEmptyDataFrames == null ? 2 : maxConsecutiveEmptyDataFrames;
        }

        /** 0 = never: connections live until the client or a drain ends them. */
        public Duration maxConnectionAgeDuration() {
            return Durations.parse(maxConnectionAge == null ? "0s" : maxConnectionAge);
        }

        /** Between the drain notice (GOAWAY with the highest stream id) and the final GOAWAY. */
        public Duration drainNoticeDuration() {
            return Durations.parse(drainNotice == null ? "1s" : drainNotice);
        }

        /** A stream reset by the client sooner than this after it opened counts as premature (Envoy: 1s). */
        public Duration prematureResetMinLifetimeDuration() {
            return Durations.parse(prematureResetMinLifetime == null ? "1s" : prematureResetMinLifetime);
        }

        public Duration resetFramesWindowDuration() {
            return Durations.parse(resetFramesWindow == null ? "30s" : resetFramesWindow);
        }
    }

    /** The {@code http2:} block's checks (RFC 9113 ranges; windows at least the RFC's 65535 for the connection). */
    void validateHttp2() {
        range("http2.maxConcurrentStreams", http2.maxConcurrentStreams(), 1, 10_000);
        range("http2.upstreamMaxConcurrentStreams", http2.upstreamMaxConcurrentStreams(), 1, 10_000);
        range("http2.initialStreamWindow", http2.initialStreamWindow(), 1024, Integer.MAX_VALUE);
        range("http2.initialConnectionWindow", http2.initialConnectionWindow(), 65_535, Integer.MAX_VALUE);
        range("http2.maxHeaderListSize", http2.maxHeaderListSize(), 1024, 1024 * 1024);
        range("http2.prematureResetMinStreams", http2.prematureResetMinStreams(), 1, Integer.MAX_VALUE);
        range("http2.maxResetFramesPerWindow", http2.maxResetFramesPerWindow(), 1, Integer.MAX_VALUE);
        range("http2.maxQueuedControlFrames", http2.maxQueuedControlFrames(), 1, Integer.MAX_VALUE);
        range("http2.maxConsecutiveEmptyDataFrames", http2.maxConsecutiveEmptyDataFrames(), 1, Integer.MAX_VALUE);
        duration("http2.maxConnectionAge", http2::maxConnectionAgeDuration);
        duration("http2.drainNotice", http2::drainNoticeDuration);
        duration("http2.prematureResetMinLifetime", http2::prematureResetMinLifetimeDuration);
        duration("http2.resetFramesWindow", http2::resetFramesWindowDuration);
        if (http2.resetFramesWindowDuration().toSeconds() < 1) {
            throw new ConfigException("http2.resetFramesWindow: must be at least 1s");
        }
    }

    private static void range(String key, int value, int min, int max) {
        if (value < min || value > max) {
            throw new ConfigException(key + ": must be between " + min + " and " + max);
        }
    }

    public boolean terminates() {
        return listeners.stream().anyMatch(l -> l.mode() == ListenerMode.TERMINATE);
    }

    /**
     * Checks everything that can be checked before binding: addresses, durations, files,
     * uniqueness. {@code base} is the config file; relative paths resolve against its folder.
     */
    public MeshgateConfig validate(Path base) {
        return validate(base, true);
    }

    /**
     * As {@link #validate(Path)}; {@code checkFiles = false} skips the existence of referenced files
     * (for configs checked away from where they run, e.g. the shipped Kubernetes manifests).
     */
    public MeshgateConfig validate(Path base, boolean checkFiles) {
        if (clusterDomain.isBlank()) {
            throw new ConfigException("clusterDomain: must not be empty");
        }
        if (listeners.isEmpty()) {
            throw new ConfigException("listeners: at least one listener is required");
        }
        Set<String> names = new HashSet<>();
        Map<Integer, String> ports = new HashMap<>();
        for (int i = 0; i < listeners.size(); i++) {
            Listener l = listeners.get(i);
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
        }
        HostPort adminAddress = address("admin.address", admin.address());
        String clash = ports.get(adminAddress.port());
        if (clash != null && adminAddress.port() != 0) {
            throw new ConfigException("admin.address: port " + adminAddress.port() + " is already used by listener '" + clash + "'");
        }
        if (discovery.remoteSecrets() != null && discovery.clusters().stream().allMatch(Cluster::remote)) {
            throw new ConfigException("discovery.remoteSecrets: needs a local cluster (a discovery.clusters entry without remote: true) to read Secrets from");
        }
        if (terminates() && tls == null) {
            throw new ConfigException("tls: required because a listener has mode: terminate");
        }
        if (tls != null) {
            file(base, "tls.certificateChain", tls.certificateChain(), checkFiles);
            file(base, "tls.privateKey", tls.privateKey(), checkFiles);
            file(base, "tls.trustBundle", tls.trustBundle(), checkFiles);
            for (int i = 0; i < tls.allowedTrustDomains().size(); i++) {
                String problem = io.meshgate.tls.SpiffeId.trustDomainProblem(tls.allowedTrustDomains().get(i));
                if (problem != null) {
                    throw new ConfigException("tls.allowedTrustDomains[" + i + "]: " + problem);
                }
            }
        }
        Set<String> clusterNames = new HashSet<>();
        for (int i = 0; i < discovery.clusters().size(); i++) {
            Cluster c = discovery.clusters().get(i);
            String key = "discovery.clusters[" + i + "]";
            if (c.name() == null || c.name().isBlank()) {
                throw new ConfigException(key + ".name: required");
            }
            if (!clusterNames.add(c.name())) {
                throw new ConfigException(key + ".name: duplicate cluster name '" + c.name() + "'");
            }
            if (c.kubeconfig() != null) {
                file(base, key + ".kubeconfig", c.kubeconfig(), checkFiles);
            }
            if (!c.remote() && (c.gateway() != null)) {
                throw new ConfigException(key + ".gateway: only a remote cluster (remote: true) has a gateway address");
            }
            if (c.remote() && c.kubeconfig() == null) {
                throw new ConfigException(key + ".kubeconfig: required for a remote cluster");
            }
            if (c.gateway() != null) {
                try {
                    io.meshgate.routing.Endpoint.parse(c.gateway());
                } catch (IllegalArgumentException e) {
                    throw new ConfigException(key + ".gateway: " + e.getMessage());
                }
            }
            String[] svc = c.gatewayService().split("/", -1);
            if (svc.length != 2 || svc[0].isBlank() || svc[1].isBlank()) {
                throw new ConfigException(key + ".gatewayService: '" + c.gatewayService() + "' is not namespace/name");
            }
        }
        Set<String> services = new HashSet<>();
        for (int i = 0; i < discovery.staticServices().size(); i++) {
            StaticService s = discovery.staticServices().get(i);
            String key = "discovery.static[" + i + "]";
            if (s.host() == null || s.host().isBlank()) {
                throw new ConfigException(key + ".host: required");
            }
            if (s.port() == null || s.port() < 1 || s.port() > 65535) {
                throw new ConfigException(key + ".port: required, 1-65535");
            }
            if (!services.add(s.host().toLowerCase(Locale.ROOT) + ":" + s.port())) {
                throw new ConfigException(key + ": duplicate entry for " + s.host() + ":" + s.port());
            }
            if (s.endpoints().isEmpty()) {
                throw new ConfigException(key + ".endpoints: at least one ip:port is required");
            }
            for (int j = 0; j < s.endpoints().size(); j++) {
                try {
                    io.meshgate.routing.Endpoint.parse(s.endpoints().get(j));
                } catch (IllegalArgumentException e) {
                    throw new ConfigException(key + ".endpoints[" + j + "]: " + e.getMessage());
                }
            }
            if (!STATIC_PROTOCOLS.contains(s.protocol())) {
                throw new ConfigException(key + ".protocol: '" + s.protocol() + "' is not tcp, http, http2 or grpc");
            }
        }
        duration("timeouts.clientHello", timeouts::clientHelloDuration);
        duration("timeouts.connect", timeouts::connectDuration);
        duration("timeouts.idle", timeouts::idleDuration);
        duration("timeouts.drain", timeouts::drainDuration);
        duration("timeouts.tlsHandshake", timeouts::tlsHandshakeDuration);
        duration("runtime.warmup", runtime::warmupDuration, "1m", "it delays readiness");
        duration("runtime.busyPoll", runtime::busyPollDuration, "10ms", "timers wait up to one window");
        if (!runtime.busyPollDuration().isZero() && runtime.transport() == Transport.IO_URING) {
            throw new ConfigException("runtime.busyPoll: not available with runtime.transport: io_uring (use epoll or nio)");
        }
        if (limits.clientHelloMaxBytes() < 512 || limits.clientHelloMaxBytes() > 16 * 1024 * 1024) {
            throw new ConfigException("limits.clientHelloMaxBytes: must be between 512 and 16777216");
        }
        if (limits.upstreamPoolSize() < 0) {
            throw new ConfigException("limits.upstreamPoolSize: must not be negative");
        }
        validateHttp2();
        if (loadBalancing.connectAttempts() < 1) {
            throw new ConfigException("loadBalancing.connectAttempts: must be at least 1");
        }
        if (runtime.workers() < 0) {
            throw new ConfigException("runtime.workers: must not be negative (0 = available processors)");
        }
        if (runtime.spliceThreshold() < 1024 || runtime.spliceThreshold() > 65536) {
            // Netty reads at most 64 KiB at a time: a larger threshold would never be reached.
            throw new ConfigException("runtime.spliceThreshold: must be between 1024 and 65536 bytes");
        }
        return this;
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

    private static void file(Path base, String key, String value, boolean mustExist) {
        if (value == null || value.isBlank()) {
            throw new ConfigException(key + ": required");
        }
        if (!mustExist) {
            return;
        }
        Path p = resolve(base, value);
        if (!Files.isReadable(p)) {
            throw new ConfigException(key + ": file " + p + " does not exist or is not readable");
        }
    }

    private static void duration(String key, java.util.function.Supplier<Duration> value) {
        try {
            Duration d = value.get();
            if (d.isNegative()) {
                throw new ConfigException(key + ": must not be negative");
            }
        } catch (IllegalArgumentException e) {
            throw new ConfigException(key + ": " + e.getMessage());
        }
    }

    /** As {@link #duration(String, java.util.function.Supplier)}, and no longer than {@code max} (a config duration). */
    private static void duration(String key, java.util.function.Supplier<Duration> value, String max, String why) {
        duration(key, value);
        if (value.get().compareTo(Durations.parse(max)) > 0) {
            throw new ConfigException(key + ": at most " + max + " (" + why + ")");
        }
    }
}
