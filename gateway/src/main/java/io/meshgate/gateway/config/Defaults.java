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
    public static final String WARMUP = "2s";
    public static final String BUSY_POLL = "0s";

    private Defaults() {}
}
