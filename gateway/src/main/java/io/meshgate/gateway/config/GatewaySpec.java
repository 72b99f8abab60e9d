package io.meshgate.gateway.config;

import io.meshgate.routing.Endpoint;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.meshgate.routing.kubernetes.ExportPolicy;
import io.meshgate.tls.AllowedIdentities;
import io.meshgate.tls.TlsFiles;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A validated {@code meshgate.yaml} in the gateway's own types: durations as {@link Duration},
 * addresses as {@link HostPort} / {@link Endpoint}, choices as enums, every default applied and
 * every file path resolved. {@link ConfigBinder} is the only way to make one; runtime code reads
 * this and never the YAML records of {@link MeshgateConfig}.
 */
public record GatewaySpec(
        String clusterDomain,
        List<ListenerSpec> listeners,
        HostPort adminAddress,
        Optional<TlsSpec> tls,
        DiscoverySpec discovery,
        TimeoutsSpec timeouts,
        LimitsSpec limits,
        BalancingSpec balancing,
        RuntimeSpec runtime,
        Optional<AccessLogSpec> accessLog,
        Http2Spec http2,
        Optional<FederationSpec> federation) {

    public GatewaySpec {
        listeners = List.copyOf(listeners);
    }

    /** How a listener treats the TLS stream. */
    public enum ListenerMode {
        /** Route on the SNI and relay the TLS stream untouched. */
        PASSTHROUGH,
        /** Terminate mTLS, authorize the caller's SPIFFE identity, re-originate to the endpoint. */
        TERMINATE,
        /**
         * For callers inside the cluster: passthrough to local endpoints when there are healthy ones,
         * else to a remote cluster's east-west gateway (SNI unchanged).
         */
        EGRESS;

        /** As the config and the logs write it. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** How the gateway talks to endpoints of terminated connections. */
    public enum UpstreamTls { MTLS, PLAINTEXT }

    /** How an endpoint is picked among a service's endpoints. */
    public enum BalancingPolicy {
        /** Power of two random choices by active connections. */
        LEAST_CONNECTIONS,
        ROUND_ROBIN
    }

    /** Which Netty transport runs the event loops ({@code runtime.transport}). */
    public enum TransportKind { AUTO, EPOLL, IO_URING, NIO }

    /** How a passthrough relay moves bytes on native epoll (elsewhere it always copies). */
    public enum SpliceMode {
        /** Copy small messages, splice a direction once it streams (a read of {@code spliceThreshold} or more). */
        AUTO,
        /** Splice every passthrough stream from the first byte after the hello. */
        ALWAYS,
        /** Always copy through pooled buffers. */
        OFF
    }

    /** One entry of {@code listeners}. */
    public record ListenerSpec(String name, HostPort address, ListenerMode mode, int maxConnections) {}

    /** {@code tls}: the gateway's identity and trust files (resolved), and who may call. */
    public record TlsSpec(TlsFiles files, UpstreamTls upstream, Set<String> allowedTrustDomains,
                          AllowedIdentities allowedIdentities) {
        public TlsSpec {
            allowedTrustDomains = Set.copyOf(allowedTrustDomains);
        }
    }

    /** {@code discovery}: where routes come from. */
    public record DiscoverySpec(List<ClusterSpec> clusters, List<StaticRoutes.StaticService> staticServices,
                                List<String> namespaces, Router.EgressPolicy egressPolicy,
                                Optional<String> remoteSecretsNamespace, ExportPolicy export) {
        public DiscoverySpec {
            clusters = List.copyOf(clusters);
            staticServices = List.copyOf(staticServices);
            namespaces = List.copyOf(namespaces);
        }
    }

    /**
     * One entry of {@code discovery.clusters}; {@code key} addresses it in errors found when it is
     * opened ({@code discovery.clusters[1]}). No kubeconfig = in-cluster service account.
     */
    public record ClusterSpec(String key, String name, Optional<Path> kubeconfig, boolean remote,
                              Optional<Endpoint> gateway, String gatewayService) {}

    /** {@code accessLog}: {@code file} empty = standard output. */
    public record AccessLogSpec(Optional<Path> file, int queueSize) {}

    /** {@code http2}: validated, durations typed; {@code maxConnectionAge} zero = never. */
    public record Http2Spec(int maxConcurrentStreams, int initialStreamWindow, int initialConnectionWindow,
                            int maxHeaderListSize, Duration maxConnectionAge, Duration drainNotice,
                            int upstreamMaxConcurrentStreams, int prematureResetMinStreams,
                            Duration prematureResetMinLifetime, int maxResetFramesPerWindow, Duration resetFramesWindow,
                            int maxQueuedControlFrames, int maxConsecutiveEmptyDataFrames, int notSentLowWatermark) {}

    /**
     * {@code trust.federation}: read every cluster's roots from {@code rootsFrom}, trust file roots ∪
     * them, publish that bundle into the local cluster; {@code signerName} names the ClusterTrustBundles
     * written when {@code clusterTrustBundle} is on.
     */
    public record FederationSpec(RootsSourceSpec rootsFrom, PublishSpec publish, Duration removalGrace) {}

    /** {@code trust.federation.rootsFrom}; {@code kind} is {@code ConfigMap} or {@code Secret}. */
    public record RootsSourceSpec(String kind, String namespace, String name, String key) {}

    /** {@code trust.federation.publish}. */
    public record PublishSpec(String namespace, String name, String key, boolean clusterTrustBundle, String signerName) {}

    /** {@code timeouts}. */
    public record TimeoutsSpec(Duration clientHello, Duration connect, Duration idle, Duration drain,
                               Duration tlsHandshake) {}

    /** {@code limits}. */
    public record LimitsSpec(int clientHelloMaxBytes, int upstreamPoolSize) {}

    /** {@code loadBalancing}. */
    public record BalancingSpec(BalancingPolicy policy, int connectAttempts) {}

    /** {@code runtime}; {@code workers} is resolved (0 in the file = available processors). */
    public record RuntimeSpec(int workers, TransportKind transport, SpliceMode splice, int spliceThreshold,
                              WarmupSpec warmup, Duration busyPoll, boolean adaptivePoll, boolean directPassthrough) {

        /** The same runtime without the warm-up (tests that start many gateways). */
        public RuntimeSpec withoutWarmup() {
            return new RuntimeSpec(workers, transport, splice, spliceThreshold, warmup.off(), busyPoll, adaptivePoll,
                    directPassthrough);
        }
    }

    /**
     * {@code runtime.warmup}, {@code runtime.warmupConnections}, {@code runtime.warmupMax}: the
     * warm-up runs for at least {@code budget} and until {@code connections} have completed,
     * whichever ends later, but never beyond {@code max} from its start; a zero budget turns it off.
     * {@code max} is at least {@code budget}.
     */
    public record WarmupSpec(Duration budget, int connections, Duration max) {

        public boolean enabled() {
            return !budget.isZero();
        }

        /** No warm-up, the other keys kept. */
        public WarmupSpec off() {
            return new WarmupSpec(Duration.ZERO, connections, max);
        }
    }

    /** This spec with no warm-up. */
    public GatewaySpec withoutWarmup() {
        return new GatewaySpec(clusterDomain, listeners, adminAddress, tls, discovery, timeouts, limits, balancing,
                runtime.withoutWarmup(), accessLog, http2, federation);
    }

    /** Whether any listener terminates mTLS. */
    public boolean terminates() {
        return listeners.stream().anyMatch(l -> l.mode() == ListenerMode.TERMINATE);
    }
}
