package io.meshgate.gateway.transport;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A loop's periodic sweep, handed to the loop by the gateway's one timer thread instead of being a
 * task in the loop's own schedule (a Netty loop with anything scheduled reads the clock three times
 * per turn and waits with a kernel timer). The period is the shortest one asked for so far. Used
 * by the loop only; a loop that shut down rejects the sweep, which ends its ticks.
 */
public final class LoopTicks {

    private static final ScheduledThreadPoolExecutor TIMER = newTimer();

    private final Runnable sweep;
    private long period = Long.MAX_VALUE;
    private ScheduledFuture<?> ticks;

    /** Ticks that run {@code sweep} on {@code loop}; stopped until {@link #atLeastEvery} starts them. */
    public LoopTicks(EventLoop loop, Runnable sweep) {
        this.sweep = () -> loop.execute(sweep); // on the timer thread
    }

    private static ScheduledThreadPoolExecutor newTimer() {
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, new DefaultThreadFactory("meshgate-timer", true));
        timer.setRemoveOnCancelPolicy(true); // a loop's stopped ticks leave nothing behind
        return timer;
    }

    /** Sweeps at least every {@code nanos} from now on: starts the ticks if stopped, restarts them if that is shorter. */
    public void atLeastEvery(long nanos) {
        if (nanos < period || ticks == null) {
            period = Math.min(period, nanos);
            stop();
            ticks = TIMER.scheduleAtFixedRate(sweep, period, period, TimeUnit.NANOSECONDS);
        }
    }

    /** Nanoseconds between sweeps ({@link Long#MAX_VALUE} before the first start). */
    public long period() {
        return period;
    }

    public boolean ticking() {
        return ticks != null;
    }

    public void stop() {
        if (ticks != null) {
            ticks.cancel(false);
            ticks = null;
        }
    }
}
