package io.meshgate.gateway.testing;

/** The relay configurations every data-path behaviour must hold under. */
public enum RelayMode {
    SPLICE("splice", "runtime: {transport: epoll, splice: always, workers: 2}"),
    /** Copies until a read of 1 KiB moves a direction to splice: every bulk test crosses over mid-stream. */
    AUTO_SPLICE("auto", "runtime: {transport: epoll, splice: auto, spliceThreshold: 1024, workers: 2}"),
    COPY_EPOLL("copy", "runtime: {transport: epoll, splice: off, workers: 2}"),
    COPY_NIO("copy", "runtime: {transport: nio, workers: 2}"),
    /** {@link #AUTO_SPLICE} with event loops that poll 200 µs after work before they block. */
    AUTO_SPLICE_BUSY_POLL("auto", "runtime: {transport: epoll, splice: auto, spliceThreshold: 1024, workers: 2, busyPoll: 200us}"),
    /** {@link #COPY_NIO} with event loops that poll 200 µs after work before they block. */
    COPY_NIO_BUSY_POLL("copy", "runtime: {transport: nio, workers: 2, busyPoll: 200us}");

    private final String relay;
    private final String yaml;

    RelayMode(String relay, String yaml) {
        this.relay = relay;
        this.yaml = yaml;
    }

    /** True when a bulk stream must (at least partly) move through the kernel in this mode. */
    public boolean splicesBulk() {
        return this == SPLICE || this == AUTO_SPLICE || this == AUTO_SPLICE_BUSY_POLL;
    }

    /** True when no byte ever moves through the kernel in this mode. */
    public boolean copiesOnly() {
        return this == COPY_EPOLL || this == COPY_NIO || this == COPY_NIO_BUSY_POLL;
    }

    /** True when the event loops busy-poll in this mode. */
    public boolean busyPolls() {
        return this == AUTO_SPLICE_BUSY_POLL || this == COPY_NIO_BUSY_POLL;
    }

    /** The relay name the gateway must report in this mode. */
    public String relay() {
        return relay;
    }

    /** A passthrough config routing {@link TlsPeers#HOST}:8080 to {@code endpoints}, plus {@code extra} top-level YAML. */
    public String config(String extra, String... endpoints) {
        return """
                listeners:
                  - name: eastwest
                    address: 127.0.0.1:0
                    mode: passthrough
                admin:
                  address: 127.0.0.1:0
                discovery:
                  static:
                    - host: %s
                      port: 8080
                      endpoints: [%s]
                %s
                %s
                """.formatted(TlsPeers.HOST, String.join(", ", quoted(endpoints)), yaml, extra);
    }

    private static String[] quoted(String[] endpoints) {
        String[] q = new String[endpoints.length];
        for (int i = 0; i < endpoints.length; i++) {
            q[i] = '"' + endpoints[i] + '"';
        }
        return q;
    }
}
