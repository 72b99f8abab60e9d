package io.meshgate.gateway.accesslog;

/**
 * Where the gateway reports each downstream connection once it has closed ({@code accessLog:}).
 * Called on event loops: an implementation must never block.
 */
public interface AccessLog {

    /** Access logging switched off: connections build no entry at all. */
    AccessLog OFF = new AccessLog() {
        @Override
        public boolean enabled() {
            return false;
        }

        @Override
        public void log(AccessLogEntry entry) {}
    };

    /** False when nothing is logged, so callers skip building the entry. */
    boolean enabled();

    /** Hands one entry over; never blocks (an entry that cannot be queued is dropped and counted). */
    void log(AccessLogEntry entry);
}
