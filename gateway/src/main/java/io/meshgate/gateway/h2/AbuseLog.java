package io.meshgate.gateway.h2;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The operator's view of connections the h2 limits closed: one INFO line per listener at most
 * every ten seconds (an attack must not flood the log), naming listener, peer, SNI and why, with
 * how many similar closes the previous window kept quiet.
 */
final class AbuseLog {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(AbuseLog.class);
    private static final long WINDOW_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final String listener;
    private final AtomicLong nextLine = new AtomicLong(System.nanoTime());
    private final AtomicInteger quiet = new AtomicInteger();

    AbuseLog(String listener) {
        this.listener = listener;
    }

    void closed(Object peer, String sni, String why) {
        long now = System.nanoTime();
        long next = nextLine.get();
        if (now - next >= 0 && nextLine.compareAndSet(next, now + WINDOW_NANOS)) {
            int suppressed = quiet.getAndSet(0);
            log.info("{} {} h2 connection closed (sni {}): {}{}", listener, peer, sni, why,
                    suppressed > 0 ? " (" + suppressed + " more in the last 10s not logged)" : "");
        } else {
            quiet.incrementAndGet();
        }
    }
}
