package io.meshgate.gateway.transport;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;

/**
 * {@code runtime.busyPoll}: after each round of work an event loop polls for ready sockets without
 * blocking for up to a window, and blocks only when the window passes with nothing ready.
 *
 * <p>Why: a blocked loop thread is woken by the peer's CPU, and on a virtual machine with no idle
 * polling that wake-up is an inter-processor interrupt (a VM exit for the sender) plus the halted
 * vCPU's own wake-up latency. Polling for a short window after activity keeps the thread on-CPU
 * while the next event is likely, at the price of CPU time spent polling (HAProxy's
 * {@code busy-polling} makes the same trade, without a window). Scheduled tasks wait at most one window;
 * tasks submitted from other threads end the window at once (their wake-up descriptor is part of the poll).
 */
final class BusyPollSelectStrategy implements SelectStrategy {
    private final long windowNanos;

    BusyPollSelectStrategy(long windowNanos) {
        this.windowNanos = positive(windowNanos);
    }

    static long positive(long windowNanos) {
        if (windowNanos <= 0) {
            throw new IllegalArgumentException("busy-poll window must be positive, got " + windowNanos + " ns");
        }
        return windowNanos;
    }

    @Override
    public int calculateStrategy(IntSupplier selectNow, boolean hasTasks) throws Exception {
        int ready = selectNow.get();
        if (ready > 0 || hasTasks) {
            return ready;
        }
        return window(selectNow, windowNanos);
    }

    /** Polls until something is ready (its count) or the window passes ({@link SelectStrategy#SELECT}). */
    static int window(IntSupplier selectNow, long windowNanos) throws Exception {
        long deadline = System.nanoTime() + windowNanos;
        do {
            int ready = selectNow.get();
            if (ready > 0) {
                return ready;
            }
        } while (System.nanoTime() - deadline < 0);
        return SelectStrategy.SELECT;
    }
}
