package io.meshgate.gateway.transport;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.FastThreadLocal;
import java.util.ArrayList;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * The per-connection deadlines of one event loop (a ClientHello still awaited, a connect in
 * progress), kept in a list the loop sweeps instead of a task each in the loop's own schedule.
 * Netty's loop reads the clock three times per turn while its schedule holds any task and waits
 * with a kernel timer then; a short connection scheduled and cancelled two such tasks, so a loop
 * taking new connections always had some. Here one shared timer thread hands each loop with
 * deadlines a sweep every eighth of its shortest timeout: a deadline fires at most that much late
 * (never early), and the loop's schedule stays empty.
 *
 * <p>Confined to its loop, but for the timer thread's {@code execute} of the sweep.
 */
public final class LoopDeadlines {

    /** Sweeps per timeout: how late a deadline may fire, as a share of its timeout. */
    static final int SWEEPS_PER_TIMEOUT = 8;
    /** The shortest sweep interval, whatever the timeout. */
    static final long MIN_PERIOD_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private static final FastThreadLocal<LoopDeadlines> OF_LOOP = new FastThreadLocal<>() {
        @Override
        protected void onRemoval(LoopDeadlines deadlines) {
            deadlines.ticks.stop(); // the loop's thread ends
        }
    };

    private final ArrayList<Deadline> pending = new ArrayList<>();
    private final LoopTicks ticks;
    /** Sweeps in a row that found nothing pending: ticks stop after two (a loop between connections keeps them). */
    private int emptySweeps;

    private LoopDeadlines(EventLoop loop) {
        this.ticks = new LoopTicks(loop, this::sweep);
    }

    /** A pending timeout: {@link #cancel} keeps its action from running. */
    public interface Timeout {
        /** On the timeout's loop; a no-op once the action ran or the timeout was cancelled. */
        void cancel();
    }

    /**
     * Runs {@code action} on {@code loop} (the calling thread's) once {@code nanos} (positive) have
     * passed, unless cancelled first: swept by the loop on meshgate's epoll loops, a task of the
     * loop's schedule on any other (NIO, io_uring, a test's embedded loop).
     */
    public static Timeout start(EventLoop loop, long nanos, Runnable action) {
        if (loop instanceof UntimedWaitLoop && loop.inEventLoop()) {
            return of(loop).add(nanos, action);
        }
        ScheduledFuture<?> task = loop.schedule(action, nanos, TimeUnit.NANOSECONDS);
        return () -> task.cancel(false);
    }

    /** The deadlines of {@code loop}, which must be the calling thread's. */
    static LoopDeadlines of(EventLoop loop) {
        LoopDeadlines deadlines = OF_LOOP.get();
        if (deadlines == null) {
            deadlines = new LoopDeadlines(loop);
            OF_LOOP.set(deadlines);
        }
        return deadlines;
    }

    /** Runs {@code action} on this loop once {@code nanos} (positive) have passed, unless the returned deadline is cancelled first. */
    Deadline add(long nanos, Runnable action) {
        Deadline d = new Deadline(this, System.nanoTime() + nanos, action);
        d.index = pending.size();
        pending.add(d);
        emptySweeps = 0;
        ticks.atLeastEvery(Math.max(MIN_PERIOD_NANOS, nanos / SWEEPS_PER_TIMEOUT));
        return d;
    }

    /**
     * On {@code loop}'s thread (one of meshgate's epoll loops, else a no-op): stops its sweeps as an
     * idle loop's stop, and starts them again at once if deadlines are pending (else the next one
     * starts them), so none fires later than it would have. The warm-up's: a gateway's loops go idle
     * between bursts of connections, and the JIT is to have seen the sweeps start again, or the
     * first connection after a quiet spell sends the connection path back to the interpreter.
     */
    public static void restartTicks(EventLoop loop) {
        if (loop instanceof UntimedWaitLoop && loop.inEventLoop()) {
            LoopDeadlines deadlines = of(loop);
            deadlines.ticks.stop();
            if (!deadlines.pending.isEmpty()) {
                deadlines.ticks.atLeastEvery(deadlines.ticks.period());
            }
        }
    }

    /** Deadlines pending (loop only). */
    int size() {
        return pending.size();
    }

    /** Whether the timer thread hands this loop sweeps now (loop only). */
    boolean ticking() {
        return ticks.ticking();
    }

    private void remove(Deadline d) {
        int i = d.index;
        if (i < 0) {
            return;
        }
        Deadline last = pending.remove(pending.size() - 1);
        if (last != d) {
            pending.set(i, last);
            last.index = i;
        }
        d.index = -1;
    }

    private void sweep() {
        if (pending.isEmpty()) {
            if (++emptySweeps >= 2) {
                ticks.stop(); // an idle loop is not woken; the next deadline starts them again
            }
            return;
        }
        emptySweeps = 0;
        long now = System.nanoTime();
        // From the end: an expired deadline leaves, moving the last one (seen already) into its place.
        for (int i = pending.size() - 1; i >= 0; i--) {
            if (i >= pending.size()) {
                continue; // an action cancelled other deadlines
            }
            Deadline d = pending.get(i);
            if (now - d.due >= 0) {
                remove(d);
                d.action.run();
            }
        }
    }

    /** One pending deadline. */
    static final class Deadline implements Timeout {
        private final LoopDeadlines owner;
        private final long due;
        private final Runnable action;
        private int index = -1;

        private Deadline(LoopDeadlines owner, long due, Runnable action) {
            this.owner = owner;
            this.due = due;
            this.action = action;
        }

        @Override
        public void cancel() {
            owner.remove(this);
        }
    }
}
