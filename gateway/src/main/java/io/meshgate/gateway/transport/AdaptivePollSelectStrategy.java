package io.meshgate.gateway.transport;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;

/**
 * {@code runtime.busyPoll: auto} (the default): a short poll window before the loop blocks, kept
 * open only while it catches events.
 *
 * <p>Why: a blocked loop thread is woken by the CPU that delivers the next packet, and on a virtual
 * machine without idle polling that wake-up is an inter-processor interrupt, a VM exit that the
 * sender's CPU pays. Under a steady flow of small messages the next event often arrives within a
 * microsecond of the loop running out of work (a peer writing its replies one by one); a window that
 * long finds it awake, and the peers' CPUs are spared the wake-up. Where events are sparse (one
 * connection at a time, an idle gateway) the window would only burn CPU, so it is scored: each
 * window that caught an event raises the score, each that did not lowers it (a moving average of
 * the share that caught one, over about the last 16 windows). The window opens while the score is
 * at least 1/16 and closes below 1/32; closed, every {@value #PROBE_EVERY}th time the loop would
 * block it polls one window anyway, to notice when the traffic changes.
 *
 * <p>Events already there when the loop runs out of work are not a window's catch (the blocking
 * wait would have returned them at once too) and are not scored. Tasks waiting: polled once, as
 * Netty's default strategy does. One instance per event loop, used by its thread only.
 */
final class AdaptivePollSelectStrategy implements SelectStrategy {
    /** The score's fixed point: {@code ONE} = every window caught an event. */
    static final int ONE = 1 << 16;
    /**
     * Opens at 1/16, closes below 1/32. On the benchmark rig with a 1-µs window, many keep-alive
     * connections (ka1k) caught an event in about one window in seven (from the wake-ups it saved),
     * new connections (close1k) in one in fifty or fewer (2 % with a 2-µs window); at 1/8 ka1k
     * hovered at the mark and its loops were closed much of the time.
     */
    static final int OPEN_AT = ONE / 16;
    static final int CLOSE_BELOW = ONE / 32;
    /**
     * Closed, one would-be block in this many polls a window (a probe costs about three
     * {@code epoll_wait} calls; at one in 16 that was two more per close1k connection).
     */
    static final int PROBE_EVERY = 64;
    /** The moving average's weight of the newest window: 1 / 2^{@code SHIFT}. */
    private static final int SHIFT = 4;

    private final long windowNanos;
    private int score;
    private boolean open;
    private int untilProbe = PROBE_EVERY;

    AdaptivePollSelectStrategy(long windowNanos) {
        this.windowNanos = BusyPollSelectStrategy.positive(windowNanos);
    }

    @Override
    public int calculateStrategy(IntSupplier selectNow, boolean hasTasks) throws Exception {
        if (hasTasks) {
            return selectNow.get();
        }
        if (!open && --untilProbe > 0) {
            return SelectStrategy.SELECT;
        }
        int ready = selectNow.get();
        if (ready > 0) {
            return ready; // there already: not the window's catch (a closed loop probes at its next block)
        }
        untilProbe = PROBE_EVERY;
        ready = BusyPollSelectStrategy.window(selectNow, windowNanos);
        if (ready > 0) {
            score += (ONE - score) >> SHIFT;
            open |= score >= OPEN_AT;
        } else {
            score -= score >> SHIFT;
            open &= score >= CLOSE_BELOW;
        }
        return ready;
    }

    boolean isOpen() {
        return open;
    }

    /** The share of recent windows that caught an event, in {@link #ONE}ths. */
    int score() {
        return score;
    }
}
