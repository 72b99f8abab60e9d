package io.meshgate.gateway.terminate;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * {@code meshgate_tls_handshakes_total{listener,result}} of one terminate listener, registered
 * once so a handshake only increments.
 */
public final class HandshakeMetrics {

    private final Counter ok;
    private final Counter denied;
    private final Counter error;

    public HandshakeMetrics(MeterRegistry registry, String listener) {
        ok = counter(registry, listener, "ok");
        denied = counter(registry, listener, "denied");
        error = counter(registry, listener, "error");
    }

    private static Counter counter(MeterRegistry registry, String listener, String result) {
        return Counter.builder("meshgate.tls.handshakes")
                .description("Downstream TLS handshakes of terminate listeners by result")
                .tags("listener", listener, "result", result)
                .register(registry);
    }

    void ok() {
        ok.increment();
    }

    void denied() {
        denied.increment();
    }

    void error() {
        error.increment();
    }
}
