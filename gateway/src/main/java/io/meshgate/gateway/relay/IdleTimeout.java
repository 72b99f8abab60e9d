package io.meshgate.gateway.relay;

import io.netty.channel.Channel;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Closes a relayed connection when no byte moved in either direction for the idle timeout.
 * Works for the copying relay and for splice alike, because it is fed by {@link TrafficMeter}
 * (writes) instead of pipeline events, and costs one counter increment per write: a check runs
 * a few times per timeout and closes after enough quiet checks in a row.
 */
public final class IdleTimeout implements Runnable {

    private static final int CHECKS_PER_TIMEOUT = 4;

    private final Channel downstream;
    private final long checkNanos;
    private long writes;
    private long writesAtLastCheck = -1;
    private int quietChecks;
    private Channel upstream;
    private ScheduledFuture<?> task;

    public IdleTimeout(Channel downstream, Duration idle) {
        this.downstream = downstream;
        this.checkNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(10), idle.toNanos() / CHECKS_PER_TIMEOUT);
    }

    /** Called on every write (event loop only). */
    void touch() {
        writes++;
    }

    /** Starts watching once both sides exist; a no-op for a zero timeout. */
    public void start(Channel upstreamChannel) {
        this.upstream = upstreamChannel;
        if (checkNanos > 0 && task == null) {
            task = downstream.eventLoop().scheduleAtFixedRate(this, checkNanos, checkNanos, TimeUnit.NANOSECONDS);
            downstream.closeFuture().addListener(f -> task.cancel(false));
        }
    }

    @Override
    public void run() {
        if (writes != writesAtLastCheck) {
            writesAtLastCheck = writes;
            quietChecks = 0;
            return;
        }
        if (++quietChecks >= CHECKS_PER_TIMEOUT) {
            task.cancel(false);
            downstream.close();
            if (upstream != null) {
                upstream.close();
            }
        }
    }
}
