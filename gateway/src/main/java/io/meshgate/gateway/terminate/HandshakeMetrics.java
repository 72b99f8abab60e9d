package io.meshgate.gateway.terminate;

import io.meshgate.gateway.metrics.RefusalLog;
import io.meshgate.tls.PeerRefusedException.Reason;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.EnumMap;
import java.util.Map;

/**
 * {@code meshgate_tls_handshakes_total{listener,result}} and
 * {@code meshgate_peer_refusals_total{listener,reason}} of one terminate listener, registered once
 * so a handshake only increments, and the listener's rate-limited refusal log.
 */
public final class HandshakeMetrics {

    private final Counter ok;
    private final Counter denied;
    private final Counter error;
    private final Map<Reason, Counter> refusals = new EnumMap<>(Reason.class);
    private final RefusalLog refusalLog = new RefusalLog(RefusalLog.DEFAULT_PER_SECOND);

    public HandshakeMetrics(MeterRegistry registry, String listener) {
        ok = counter(registry, listener, "ok");
        denied = counter(registry, listener, "denied");
        error = counter(registry, listener, "error");
        for (Reason reason : Reason.values()) {
            // Several reasons share a label (bad_spiffe_id): Micrometer hands back the one counter.
            refusals.put(reason, Counter.builder("meshgate.peer.refusals")
                    .description("Downstream peers refused by terminate listeners, by reason")
                    .tags("listener", listener, "reason", reason.label())
                    .register(registry));
        }
    }

    void refused(Reason reason) {
        refusals.get(reason).increment();
    }

    RefusalLog refusalLog() {
        return refusalLog;
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
