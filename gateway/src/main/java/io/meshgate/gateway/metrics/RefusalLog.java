package io.meshgate.gateway.metrics;

import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One INFO line per refused connection, rate-limited per listener so a flood of refusals (a
 * misconfigured neighbour retrying in a loop) cannot flood the log: at most {@code perSecond}
 * lines a second; the next line that gets through says how many were left out. Lock-free; called
 * on event loops.
 */
public final class RefusalLog {

    /** Default lines per second and listener. */
    public static final int DEFAULT_PER_SECOND = 10;

    private static final Logger log = LoggerFactory.getLogger("io.meshgate.gateway.refusals");

    private final int perSecond;
    private final AtomicLong window = new AtomicLong();
    private final AtomicLong inWindow = new AtomicLong();
    private final AtomicLong suppressed = new AtomicLong();

    public RefusalLog(int perSecond) {
        this.perSecond = perSecond;
    }

    /**
     * Logs {@code listener=.. peer=.. sni=.. subject=.. reason=.. detail} if the rate allows.
     * {@code subject} may be null (no certificate, or a passthrough refusal).
     */
    public void refused(String listener, Object peer, String sni, String subject, String reason, String detail) {
        if (!log.isInfoEnabled() || !admit(System.nanoTime() / 1_000_000_000L)) {
            return;
        }
        long left = suppressed.getAndSet(0);
        log.info("refused listener={} peer={} sni={} subject={} reason={}{}{}", listener, peer, quote(sni), quote(subject), reason,
                detail == null || detail.isEmpty() ? "" : ": " + detail,
                left == 0 ? "" : " (" + left + " earlier refusal(s) not logged, rate limit " + perSecond + "/s)");
    }

    boolean admit(long second) {
        long current = window.get();
        if (current != second && window.compareAndSet(current, second)) {
            inWindow.set(0);
        }
        if (inWindow.incrementAndGet() <= perSecond) {
            return true;
        }
        suppressed.incrementAndGet();
        return false;
    }

    private static String quote(String s) {
        return s == null ? "-" : "\"" + s.replace("\"", "\\\"") + "\"";
    }
}
