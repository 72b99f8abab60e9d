package io.meshgate.gateway.config;

/**
 * Every default of {@code meshgate.yaml} in one place (the README's config section lists the
 * same): what a key means when the file leaves it out.
 */
public final class Defaults {

    public static final String CLUSTER_DOMAIN = "cluster.local";
    public static final String ADMIN_ADDRESS = "127.0.0.1:15000";
    public static final int LISTENER_MAX_CONNECTIONS = 16_384;
    public static final String REMOTE_SECRETS_NAMESPACE = "meshgate-system";
    public static final String GATEWAY_SERVICE = "meshgate-system/meshgate";
    public static final String STATIC_PROTOCOL = "tcp";
    /** {@code discovery.export}: only Services (or namespaces) labelled {@code meshgate.io/export: "true"}. */
    public static final String EXPORT = "labelled";
    /** {@code accessLog.queueSize}: lines waiting for the writer before new ones are dropped. */
    public static final int ACCESS_LOG_QUEUE_SIZE = 8192;

    public static final String CLIENT_HELLO_TIMEOUT = "10s";
    public static final String CONNECT_TIMEOUT = "5s";
    public static final String IDLE_TIMEOUT = "1h";
    public static final String DRAIN_TIMEOUT = "30s";
    public static final String TLS_HANDSHAKE_TIMEOUT = "10s";
    /** {@code tls.allowedIdentities}: none listed = any identity {@code tls.allowedTrustDomains} lets through. */
    public static final java.util.List<String> ALLOWED_IDENTITIES = java.util.List.of();

    public static final int CLIENT_HELLO_MAX_BYTES = 64 * 1024;
    public static final int UPSTREAM_POOL_SIZE = 64;
    public static final int CONNECT_ATTEMPTS = 3;

    /** 0 = one event loop per available processor. */
    public static final int WORKERS = 0;
    /**
     * Read size that moves a relay direction from copying to splicing under {@code splice: auto}:
     * two full TLS records queued at once.
     */
    public static final int SPLICE_THRESHOLD = 32 * 1024;
    /**
     * {@code runtime.directPassthrough}: passthrough and egress listeners on epoll handle their
     * sockets without Netty channels (about a fifth less CPU per short connection).
     */
    public static final boolean DIRECT_PASSTHROUGH = true;
    public static final String WARMUP = "2s";
    /** {@code runtime.busyPoll}'s keyword for the adaptive window. */
    public static final String BUSY_POLL_AUTO = "auto";
    /**
     * {@code runtime.busyPoll}: {@code auto} polls {@link #ADAPTIVE_POLL_WINDOW} before an event loop
     * blocks, but only while such windows catch events (one in sixteen opens it, under one in 32 closes it);
     * {@code 0s} never polls; a duration polls that long every time.
     */
    public static final String BUSY_POLL = BUSY_POLL_AUTO;
    public static final java.time.Duration ADAPTIVE_POLL_WINDOW = java.time.Duration.ofNanos(1_000);

    /**
     * {@code runtime.warmupConnections}: connections the warm-up completes even when that takes longer
     * than {@code runtime.warmup}. C2 compiles a method once its profile has counted about 5,000 calls
     * (Tier4InvocationThreshold; 15,000 calls and loop iterations together), scaled up while C2's queue
     * is long at start; each end-of-connection order (the endpoint's FIN first, the caller's) gets a
     * good part of 10,000 connections, and with fewer a fresh gateway still queues a hundred or more
     * C2 compilations under its first traffic (docs/performance.md, "Faster warm-up"). 10,000 take
     * about 5 s on one core, half of it the JIT's own compiling.
     */
    public static final int WARMUP_CONNECTIONS = 10_000;
    /**
     * {@code runtime.warmupMax}: the longest the warm-up may delay binding (counted from its start),
     * reached only on a starved host (or under leak detection at its most thorough); well inside the
     * shipped startupProbe's 60 s, which also covers JVM start, TLS loading and discovery.
     */
    public static final String WARMUP_MAX = "15s";

    /** {@code http2.*}: Envoy's edge guidance for SETTINGS; abuse limits after Envoy 1.27.1 and Netty. */
    public static final int H2_MAX_CONCURRENT_STREAMS = 100;
    public static final int H2_INITIAL_STREAM_WINDOW = 64 * 1024;
    public static final int H2_INITIAL_CONNECTION_WINDOW = 1024 * 1024;
    public static final int H2_MAX_HEADER_LIST_SIZE = 16 * 1024;
    public static final String H2_MAX_CONNECTION_AGE = "0s";
    public static final String H2_DRAIN_NOTICE = "1s";
    public static final int H2_UPSTREAM_MAX_CONCURRENT_STREAMS = 100;
    public static final int H2_PREMATURE_RESET_MIN_STREAMS = 500;
    public static final String H2_PREMATURE_RESET_MIN_LIFETIME = "1s";
    public static final int H2_MAX_RESET_FRAMES_PER_WINDOW = 1000;
    public static final String H2_RESET_FRAMES_WINDOW = "30s";
    public static final int H2_MAX_QUEUED_CONTROL_FRAMES = 10_000;
    public static final int H2_MAX_CONSECUTIVE_EMPTY_DATA_FRAMES = 2;
    /** Unsent bytes the kernel may hold for a caller's h2 connection (TCP_NOTSENT_LOWAT); 0 = the kernel's default. */
    public static final int H2_NOT_SENT_LOW_WATERMARK = 128 * 1024;

    /** {@code trust.federation.*}: the object every cluster publishes its own roots in, and the published bundle. */
    public static final String FEDERATION_ROOTS_KIND = "ConfigMap";
    public static final String FEDERATION_NAMESPACE = "meshgate-system";
    public static final String FEDERATION_ROOTS_NAME = "meshgate-root";
    public static final String FEDERATION_ROOTS_KEY = "root-cert.pem";
    public static final String FEDERATION_PUBLISH_NAME = "meshgate-federated-bundle";
    public static final String FEDERATION_PUBLISH_KEY = "bundle.pem";
    public static final String FEDERATION_REMOVAL_GRACE = "1h";
    /** The signer name of the ClusterTrustBundles meshgate writes ({@code publish.clusterTrustBundle: true}). */
    public static final String FEDERATION_SIGNER_NAME = "meshgate.io/federation";

    private Defaults() {}
}
