package io.meshgate.gateway.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The whole {@code meshgate.yaml} as written (README "Config reference"): thin Jackson records, the
 * file's own shape. {@link ConfigLoader} parses it, {@link ConfigBinder} validates it and turns it
 * into the {@link GatewaySpec} the gateway runs from; defaults come from {@link Defaults}.
 */
public record MeshgateConfig(
        String clusterDomain,
        List<ListenerConfig> listeners,
        Admin admin,
        Tls tls,
        Discovery discovery,
        Timeouts timeouts,
        Limits limits,
        LoadBalancing loadBalancing,
        Runtime runtime,
        AccessLog accessLog,
        Http2 http2,
        Trust trust) {

    public MeshgateConfig {
        clusterDomain = clusterDomain == null ? Defaults.CLUSTER_DOMAIN : clusterDomain;
        listeners = listeners == null ? List.of() : List.copyOf(listeners);
        admin = admin == null ? new Admin(null) : admin;
        discovery = discovery == null ? new Discovery(null, null, null, null, null, null) : discovery;
        timeouts = timeouts == null ? new Timeouts(null, null, null, null, null) : timeouts;
        limits = limits == null ? new Limits(null, null) : limits;
        loadBalancing = loadBalancing == null ? new LoadBalancing(null, null) : loadBalancing;
        runtime = runtime == null ? new Runtime(null, null, null, null, null, null, null, null, null) : runtime;
        http2 = http2 == null ? new Http2(null, null, null, null, null, null, null, null, null, null, null, null, null, null) : http2;
        trust = trust == null ? new Trust(null) : trust;
    }

    /** This config with {@code runtime.warmup: 0s}. */
    public MeshgateConfig withoutWarmup() {
        return new MeshgateConfig(clusterDomain, listeners, admin, tls, discovery, timeouts, limits, loadBalancing,
                runtime.withoutWarmup(), accessLog, http2, trust);
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

    public record ListenerConfig(String name, String address, ListenerMode mode, Integer maxConnections) {
        public ListenerConfig {
            mode = mode == null ? ListenerMode.PASSTHROUGH : mode;
            maxConnections = maxConnections == null ? Defaults.LISTENER_MAX_CONNECTIONS : maxConnections;
        }

        public HostPort hostPort() {
            return HostPort.parse(address);
        }
    }

    public record Admin(String address) {
        public Admin {
            address = address == null ? Defaults.ADMIN_ADDRESS : address;
        }

        public HostPort hostPort() {
            return HostPort.parse(address);
        }
    }

    /**
     * @param allowedIdentities SPIFFE IDs (exact, or a prefix ending in {@code *}) a terminate
     *                          listener accepts as callers; empty = any the trust-domain rule allows
     */
    public record Tls(String certificateChain, String privateKey, String trustBundle, UpstreamTls upstream,
                      List<String> allowedTrustDomains, List<String> allowedIdentities) {
        public Tls {
            upstream = upstream == null ? UpstreamTls.MTLS : upstream;
            allowedTrustDomains = allowedTrustDomains == null ? List.of() : List.copyOf(allowedTrustDomains);
            allowedIdentities = allowedIdentities == null ? Defaults.ALLOWED_IDENTITIES : List.copyOf(allowedIdentities);
        }
    }

    /**
     * @param namespaces namespaces whose Services the gateway exports; empty = all (see README)
     */
    /**
     * @param namespaces namespaces whose Services the gateway watches; empty = all (see README)
     * @param export     which of those Services other clusters may reach: {@code labelled} (default),
     *                   {@code serviceExport} or {@code all}
     */
    public record Discovery(List<Cluster> clusters, @JsonProperty("static") List<StaticService> staticServices,
                            List<String> namespaces, EgressPolicy egressPolicy, RemoteSecretsConfig remoteSecrets,
                            String export) {
        public Discovery {
            export = export == null ? Defaults.EXPORT : export;
            clusters = clusters == null ? List.of() : List.copyOf(clusters);
            staticServices = staticServices == null ? List.of() : List.copyOf(staticServices);
            namespaces = namespaces == null ? List.of() : List.copyOf(namespaces);
            egressPolicy = egressPolicy == null ? EgressPolicy.LOCAL_FIRST : egressPolicy;
        }
    }

    /**
     * {@code accessLog}: one JSON line per downstream connection, once its fate is known. Absent =
     * off. Lines go through a bounded queue to a writer thread, so the event loops never wait for
     * the disk; when the queue is full a line is dropped and counted.
     *
     * @param path      {@code stdout}, or a file (appended to; relative to the config file's folder)
     * @param queueSize lines waiting for the writer before new ones are dropped
     */
    public record AccessLog(String path, Integer queueSize) {
        public static final String STDOUT = "stdout";

        public AccessLog {
            path = path == null ? STDOUT : path;
            queueSize = queueSize == null ? Defaults.ACCESS_LOG_QUEUE_SIZE : queueSize;
        }
    }

    /**
     * {@code http2}: HTTP/2 on terminate listeners (downstream SETTINGS, the h2 upstream pool, drain,
     * abuse limits). Defaults ({@link Defaults}) follow Envoy's edge guidance; {@link ConfigBinder}
     * checks every key.
     */
    public record Http2(Integer maxConcurrentStreams, Integer initialStreamWindow, Integer initialConnectionWindow,
                        Integer maxHeaderListSize, String maxConnectionAge, String drainNotice,
                        Integer upstreamMaxConcurrentStreams, Integer prematureResetMinStreams,
                        String prematureResetMinLifetime, Integer maxResetFramesPerWindow, String resetFramesWindow,
                        Integer maxQueuedControlFrames, Integer maxConsecutiveEmptyDataFrames,
                        Integer notSentLowWatermark) {}

    /** {@code trust}: where trust comes from besides {@code tls.trustBundle}. */
    public record Trust(Federation federation) {}

    /**
     * {@code trust.federation}: roots exchanged through the API servers. Absent = off. Every cluster
     * the gateway knows publishes its own roots in {@code rootsFrom}; the gateway trusts file roots ∪
     * all of them and writes that bundle into the local cluster as the ConfigMap {@code publish}.
     *
     * @param removalGrace a root that disappears from its source (or whose cluster leaves) stays trusted this long
     */
    public record Federation(RootsFrom rootsFrom, Publish publish, String removalGrace) {
        public Federation {
            rootsFrom = rootsFrom == null ? new RootsFrom(null, null, null, null) : rootsFrom;
            publish = publish == null ? new Publish(null, null, null, null) : publish;
            removalGrace = removalGrace == null ? Defaults.FEDERATION_REMOVAL_GRACE : removalGrace;
        }
    }

    /** {@code trust.federation.rootsFrom}: the object (same in every cluster) holding that cluster's own roots. */
    public record RootsFrom(String kind, String namespace, String name, String key) {
        public RootsFrom {
            kind = kind == null ? Defaults.FEDERATION_ROOTS_KIND : kind;
            namespace = namespace == null ? Defaults.FEDERATION_NAMESPACE : namespace;
            name = name == null ? Defaults.FEDERATION_ROOTS_NAME : name;
            key = key == null ? Defaults.FEDERATION_ROOTS_KEY : key;
        }
    }

    /**
     * {@code trust.federation.publish}: the ConfigMap (local cluster) the federated bundle is written to;
     * {@code clusterTrustBundle: true} also writes one ClusterTrustBundle per source cluster.
     */
    public record Publish(String namespace, String name, String key, Boolean clusterTrustBundle) {
        public Publish {
            namespace = namespace == null ? Defaults.FEDERATION_NAMESPACE : namespace;
            name = name == null ? Defaults.FEDERATION_PUBLISH_NAME : name;
            key = key == null ? Defaults.FEDERATION_PUBLISH_KEY : key;
            clusterTrustBundle = clusterTrustBundle != null && clusterTrustBundle;
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
    public record RemoteSecretsConfig(String namespace) {
        public RemoteSecretsConfig {
            namespace = namespace == null ? Defaults.REMOTE_SECRETS_NAMESPACE : namespace;
        }
    }

    /**
     * A Kubernetes cluster to read Services and EndpointSlices from; no kubeconfig = in-cluster.
     * A remote one also names its east-west gateway: fixed ({@code gateway}, wins) or discovered
     * from its meshgate LoadBalancer Service ({@code gatewayService}, default meshgate-system/meshgate).
     */
    public record Cluster(String name, String kubeconfig, Boolean remote, String gateway, String gatewayService) {
        public Cluster {
            remote = remote != null && remote;
            gatewayService = gatewayService == null ? Defaults.GATEWAY_SERVICE : gatewayService;
        }

        public Cluster(String name, String kubeconfig) {
            this(name, kubeconfig, null, null, null);
        }
    }

    public record StaticService(String host, Integer port, List<String> endpoints, String protocol) {
        public StaticService {
            endpoints = endpoints == null ? List.of() : List.copyOf(endpoints);
            protocol = protocol == null ? Defaults.STATIC_PROTOCOL : protocol;
        }
    }

    /** Durations as written; the {@code ...Duration()} views parse them with their defaults. */
    public record Timeouts(String clientHello, String connect, String idle, String drain, String tlsHandshake) {
        public Duration clientHelloDuration() {
            return parse(clientHello, Defaults.CLIENT_HELLO_TIMEOUT);
        }

        public Duration connectDuration() {
            return parse(connect, Defaults.CONNECT_TIMEOUT);
        }

        public Duration idleDuration() {
            return parse(idle, Defaults.IDLE_TIMEOUT);
        }

        public Duration drainDuration() {
            return parse(drain, Defaults.DRAIN_TIMEOUT);
        }

        public Duration tlsHandshakeDuration() {
            return parse(tlsHandshake, Defaults.TLS_HANDSHAKE_TIMEOUT);
        }

        private static Duration parse(String value, String fallback) {
            return Durations.parse(value == null ? fallback : value);
        }
    }

    public record Limits(Integer clientHelloMaxBytes, Integer upstreamPoolSize) {
        public Limits {
            clientHelloMaxBytes = clientHelloMaxBytes == null ? Defaults.CLIENT_HELLO_MAX_BYTES : clientHelloMaxBytes;
            upstreamPoolSize = upstreamPoolSize == null ? Defaults.UPSTREAM_POOL_SIZE : upstreamPoolSize;
        }
    }

    public record LoadBalancing(BalancingPolicy policy, Integer connectAttempts) {
        public LoadBalancing {
            policy = policy == null ? BalancingPolicy.LEAST_CONNECTIONS : policy;
            connectAttempts = connectAttempts == null ? Defaults.CONNECT_ATTEMPTS : connectAttempts;
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
     * @param warmup          JIT warm-up: the least time it runs before the listeners bind ({@code 0s}: no warm-up)
     * @param busyPoll        how long an event loop polls without blocking after work ({@code 0s}: off;
     *                        {@code auto}: a short window, open only while it catches events)
     * @param warmupConnections warm-up: connections to complete, however long past {@code warmup} that takes
     * @param warmupMax       warm-up: the longest it may delay binding, whatever it has completed
     * @param directPassthrough passthrough and egress listeners on epoll handle their sockets without Netty channels
     */
    public record Runtime(Integer workers, Transport transport, Splice splice, Integer spliceThreshold, String warmup,
                          String busyPoll, Integer warmupConnections, String warmupMax, Boolean directPassthrough) {
        public Runtime {
            workers = workers == null ? Defaults.WORKERS : workers;
            directPassthrough = directPassthrough == null ? Defaults.DIRECT_PASSTHROUGH : directPassthrough;
            transport = transport == null ? Transport.AUTO : transport;
            splice = splice == null ? Splice.AUTO : splice;
            spliceThreshold = spliceThreshold == null ? Defaults.SPLICE_THRESHOLD : spliceThreshold;
        }

        public Duration warmupDuration() {
            return Durations.parse(warmup == null ? Defaults.WARMUP : warmup);
        }

        /** The same runtime without the warm-up (tests that start many gateways). */
        public Runtime withoutWarmup() {
            return new Runtime(workers, transport, splice, spliceThreshold, "0s", busyPoll, warmupConnections, warmupMax,
                    directPassthrough);
        }
    }

    /**
     * Checks everything that can be checked before binding (addresses, durations, files,
     * uniqueness; {@link ConfigBinder}). {@code base} is the config file; relative paths resolve
     * against its folder.
     */
    public MeshgateConfig validate(Path base) {
        return validate(base, true);
    }

    /**
     * As {@link #validate(Path)}; {@code checkFiles = false} skips the existence of referenced files
     * (for configs checked away from where they run, e.g. the shipped Kubernetes manifests).
     */
    public MeshgateConfig validate(Path base, boolean checkFiles) {
        ConfigBinder.bind(this, base, checkFiles);
        return this;
    }
}
