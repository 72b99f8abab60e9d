package io.meshgate.gateway.testing;

import java.util.Map;

/**
 * The relay configurations every data-path behaviour must hold under. On epoll, passthrough
 * connections run without Netty channels by default ({@code runtime.directPassthrough}); the
 * {@code *_CHANNELS} modes run the same suite through the Netty pipelines.
 */
public enum RelayMode {
    SPLICE("splice", Map.of("transport", "epoll", "splice", "always", "workers", 2)),
    /** Copies until a read of 1 KiB moves a direction to splice: every bulk test crosses over mid-stream. */
    AUTO_SPLICE("auto", Map.of("transport", "epoll", "splice", "auto", "spliceThreshold", 1024, "workers", 2)),
    /** Copies, with loops that never poll before they block ({@code busyPoll: 0s}; the other modes keep the default, {@code auto}). */
    COPY_EPOLL("copy", Map.of("transport", "epoll", "splice", "off", "workers", 2, "busyPoll", "0s")),
    COPY_NIO("copy", Map.of("transport", "nio", "workers", 2)),
    /** {@link #AUTO_SPLICE} with event loops that poll 200 µs after work before they block. */
    AUTO_SPLICE_BUSY_POLL("auto", Map.of("transport", "epoll", "splice", "auto", "spliceThreshold", 1024, "workers", 2,
            "busyPoll", "200us")),
    /** {@link #COPY_NIO} with event loops that poll 200 µs after work before they block. */
    COPY_NIO_BUSY_POLL("copy", Map.of("transport", "nio", "workers", 2, "busyPoll", "200us")),
    /** {@link #SPLICE} through Netty channels and pipelines. */
    SPLICE_CHANNELS("splice", Map.of("transport", "epoll", "splice", "always", "workers", 2, "directPassthrough", false)),
    /** {@link #AUTO_SPLICE} through Netty channels and pipelines. */
    AUTO_SPLICE_CHANNELS("auto", Map.of("transport", "epoll", "splice", "auto", "spliceThreshold", 1024, "workers", 2,
            "directPassthrough", false)),
    /** {@link #COPY_EPOLL} through Netty channels and pipelines. */
    COPY_EPOLL_CHANNELS("copy", Map.of("transport", "epoll", "splice", "off", "workers", 2, "directPassthrough", false));

    private final String relay;
    /** The {@code runtime} keys of this mode. */
    private final Map<String, Object> runtime;

    RelayMode(String relay, Map<String, Object> runtime) {
        this.relay = relay;
        this.runtime = runtime;
    }

    /** True when a bulk stream must (at least partly) move through the kernel in this mode. */
    public boolean splicesBulk() {
        return this == SPLICE || this == AUTO_SPLICE || this == AUTO_SPLICE_BUSY_POLL || this == SPLICE_CHANNELS
                || this == AUTO_SPLICE_CHANNELS;
    }

    /** True when no byte ever moves through the kernel in this mode. */
    public boolean copiesOnly() {
        return this == COPY_EPOLL || this == COPY_NIO || this == COPY_NIO_BUSY_POLL || this == COPY_EPOLL_CHANNELS;
    }

    /** True when passthrough connections run without Netty channels in this mode (epoll, {@code runtime.directPassthrough} on). */
    public boolean direct() {
        return "epoll".equals(runtime.get("transport")) && !Boolean.FALSE.equals(runtime.get("directPassthrough"));
    }

    /** True when the event loops busy-poll in this mode. */
    public boolean busyPolls() {
        return this == AUTO_SPLICE_BUSY_POLL || this == COPY_NIO_BUSY_POLL;
    }

    /** The poll window this mode's loops run with: a fixed window, none, or {@code auto}'s. */
    public java.time.Duration pollWindow() {
        return busyPolls() ? java.time.Duration.ofNanos(200_000) : this == COPY_EPOLL ? java.time.Duration.ZERO
                : java.time.Duration.ofNanos(1_000);
    }

    /** True when this mode's loops poll only while their windows catch events ({@code busyPoll: auto}). */
    public boolean adaptivePoll() {
        return !busyPolls() && this != COPY_EPOLL;
    }

    /** The {@code runtime} keys of this mode. */
    public Map<String, Object> runtime() {
        return runtime;
    }

    /** The relay name the gateway must report in this mode. */
    public String relay() {
        return relay;
    }

    /** {@link TestConfig#passthrough} ({@link TlsPeers#HOST}:8080 → {@code endpoints}) in this mode. */
    public TestConfig passthrough(String... endpoints) {
        TestConfig config = TestConfig.passthrough(endpoints);
        runtime.forEach((key, value) -> config.set("runtime." + key, value));
        return config;
    }
}
