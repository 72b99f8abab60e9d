package io.meshgate.gateway.relay;

import io.meshgate.gateway.transport.LoopTicks;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.ArrayList;

/**
 * The idle checks of one event loop's relayed connections, started by one timer thread for all
 * loops instead of a scheduled task per connection in the loop's own queue. A Netty loop whose
 * queue holds any scheduled task reads the clock three times per turn to see whether one is due
 * (some 13 % of the relay's user CPU per small request in a profile), although an idle check is
 * due only every quarter of the idle timeout (15 minutes by default). Here the loop's queue
 * stays empty while it relays; the timer thread hands the loop one sweep per check interval.
 *
 * <p>Confined to its loop, but for the timer thread's {@code execute} of the sweep.
 */
final class IdleWatch {

    private static final FastThreadLocal<IdleWatch> WATCHES = new FastThreadLocal<>() {
        @Override
        protected void onRemoval(IdleWatch watch) {
            watch.ticks.stop(); // the loop's thread ends
        }
    };

    private final ArrayList<IdleTimeout> watched = new ArrayList<>();
    /** Sweeps every shortest check interval watched so far. */
    private final LoopTicks ticks;

    private IdleWatch(EventLoop loop) {
        this.ticks = new LoopTicks(loop, this::sweep);
    }

    /** The watch of {@code loop}, which is the calling thread's. */
    static IdleWatch of(EventLoop loop) {
        IdleWatch watch = WATCHES.get();
        if (watch == null) {
            watch = new IdleWatch(loop);
            WATCHES.set(watch);
        }
        return watch;
    }

    /** Checks {@code timeout} every {@code timeout.checkNanos} from now on, until {@link #remove}. */
    void add(IdleTimeout timeout) {
        timeout.index = watched.size();
        watched.add(timeout);
        timeout.nextCheck = System.nanoTime() + timeout.checkNanos;
        ticks.atLeastEvery(timeout.checkNanos);
    }

    void remove(IdleTimeout timeout) {
        int i = timeout.index;
        if (i < 0) {
            return;
        }
        IdleTimeout last = watched.remove(watched.size() - 1);
        if (last != timeout) {
            watched.set(i, last);
            last.index = i;
        }
        timeout.index = -1;
    }

    /** Connections watched (loop only). */
    int size() {
        return watched.size();
    }

    private void sweep() {
        if (watched.isEmpty()) {
            ticks.stop(); // nothing to watch: an idle gateway is not woken (the next add starts them again)
            return;
        }
        long now = System.nanoTime();
        long early = ticks.period() / 2; // the timer's ticks and the loop's turns are not exact: due within half a sweep counts
        // From the end: a check that closes its connection removes it, moving the last entry (seen already) here.
        for (int i = watched.size() - 1; i >= 0; i--) {
            if (i >= watched.size()) {
                continue;
            }
            IdleTimeout t = watched.get(i);
            if (now + early - t.nextCheck >= 0) {
                t.nextCheck = now + t.checkNanos;
                t.check();
            }
        }
    }
}
