package io.meshgate.gateway.relay;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Closes a relayed connection when no byte moved in either direction for the idle timeout.
 * Works for the copying relay and for splice alike, because it is fed by {@link TrafficMeter}
 * (writes) instead of pipeline events, and costs one counter increment per write: a check runs
 * a few times per timeout and closes after enough quiet checks in a row. The checks of a loop's
 * connections are run by its {@link IdleWatch}, not as scheduled tasks of the loop.
 *
 * <p>What it closes is a pair of channels, or for a connection without channels (the direct
 * passthrough path) a {@link Target}, fed by {@link #touch} on every send.
 */
public final class IdleTimeout {

    private static final int CHECKS_PER_TIMEOUT = 4;

    /** A connection without channels: what an idle timeout closes. */
    public interface Target {
        /** Closes the whole connection (on its event loop, from the watch's sweep). */
        void idle();
    }

    /** The channel path's downstream; null for a {@link Target}. */
    private final Channel downstream;
    /** Null for the channel path. */
    private final Target target;
    final long checkNanos;
    private long writes;
    private long writesAtLastCheck = -1;
    private int quietChecks;
    private Channel upstream;
    private IdleWatch watch;
    /** The watch's bookkeeping: where this is in its list (-1: not watched), and when it checks next. */
    int index = -1;
    long nextCheck;

    public IdleTimeout(Channel downstream, Duration idle) {
        this(downstream, null, idle);
    }

    /** For a connection without channels: {@link #watch(EventLoop)} on its loop, {@link #stop()} when it closes. */
    public IdleTimeout(Target target, Duration idle) {
        this(null, java.util.Objects.requireNonNull(target), idle);
    }

    private IdleTimeout(Channel downstream, Target target, Duration idle) {
        this.downstream = downstream;
        this.target = target;
        // Zero: no idle timeout (it used to become a 10 ms check, closing every connection within 40 ms).
        this.checkNanos = idle.isZero() ? 0 : Math.max(TimeUnit.MILLISECONDS.toNanos(10), idle.toNanos() / CHECKS_PER_TIMEOUT);
    }

    /** Called on every write (event loop only). */
    public void touch() {
        writes++;
    }

    /** Starts watching once both sides exist (on the downstream's event loop); a no-op for a zero timeout. */
    public void start(Channel upstreamChannel) {
        this.upstream = upstreamChannel;
        if (checkNanos > 0 && watch == null && downstream.isOpen()) {
            watch = IdleWatch.of(downstream.eventLoop());
            watch.add(this);
            downstream.closeFuture().addListener(f -> watch.remove(this));
        }
    }

    /** A {@link Target}'s start: watched by the watch of {@code loop}, the calling thread's; a no-op for a zero timeout. */
    public void watch(EventLoop loop) {
        if (checkNanos > 0 && watch == null) {
            watch = IdleWatch.of(loop);
            watch.add(this);
        }
    }

    /** A {@link Target}'s end (its loop): no more checks. */
    public void stop() {
        if (watch != null) {
            watch.remove(this);
        }
    }

    /** One check, run by the watch every {@link #checkNanos}. */
    void check() {
        if (writes != writesAtLastCheck) {
            writesAtLastCheck = writes;
            quietChecks = 0;
            return;
        }
        if (++quietChecks >= CHECKS_PER_TIMEOUT) {
            watch.remove(this);
            if (target != null) {
                target.idle();
                return;
            }
            downstream.close();
            if (upstream != null) {
                upstream.close();
            }
        }
    }
}
