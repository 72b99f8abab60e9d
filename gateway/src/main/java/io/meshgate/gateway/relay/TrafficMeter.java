package io.meshgate.gateway.relay;

import io.meshgate.gateway.metrics.ByteCounter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufHolder;
import io.netty.channel.FileRegion;
import io.netty.channel.MessageSizeEstimator;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Counts the bytes written to one side of a connection, whichever relay moves them: it is the
 * channel's {@link MessageSizeEstimator}, which Netty consults for every write, including the
 * kernel-side splice writes that never pass through the pipeline. It also marks the connection
 * as active for the idle timeout.
 */
public final class TrafficMeter implements MessageSizeEstimator, MessageSizeEstimator.Handle {

    /** Netty's splice write carries its length in a private field; read it without copying anything. */
    private static final Class<?> SPLICE_OUT_TASK;
    private static final VarHandle SPLICE_LEN;

    static {
        Class<?> type = null;
        VarHandle len = null;
        try {
            type = Class.forName("io.netty.channel.epoll.AbstractEpollStreamChannel$SpliceOutTask");
            len = MethodHandles.privateLookupIn(type, MethodHandles.lookup()).findVarHandle(type, "len", int.class);
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            type = null; // spliced bytes are then not counted; the relay tests catch this
        }
        SPLICE_OUT_TASK = type;
        SPLICE_LEN = len;
    }

    private static final VarHandle WRITTEN;

    static {
        try {
            WRITTEN = MethodHandles.lookup().findVarHandle(TrafficMeter.class, "written", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final ByteCounter bytes;
    private final ByteCounter spliced;
    private final IdleTimeout activity;
    /** Whether {@link #written} is kept: only the access log reads it, so without one the hot path skips the atomic add. */
    private final boolean perConnection;
    /** Bytes written through this meter (its channel, when it serves one connection), for the access log. */
    @SuppressWarnings("unused") // through WRITTEN: a write may be estimated off the channel's event loop
    private volatile long written;

    /** A meter that keeps no per-connection total (channels shared by many connections: pooled upstreams). */
    public TrafficMeter(ByteCounter bytes, ByteCounter spliced, IdleTimeout activity) {
        this(bytes, spliced, activity, false);
    }

    /**
     * @param bytes         every byte written
     * @param spliced       of those, the bytes the kernel moved
     * @param activity      the connection's idle timeout, told of every write; may be null
     * @param perConnection keep this channel's total for {@link #writtenOn} (the access log is on)
     */
    public TrafficMeter(ByteCounter bytes, ByteCounter spliced, IdleTimeout activity, boolean perConnection) {
        this.bytes = bytes;
        this.spliced = spliced;
        this.activity = activity;
        this.perConnection = perConnection;
    }

    /** Every byte written through this meter so far (0 unless it counts per connection). */
    public long written() {
        return written;
    }

    /** Bytes written on {@code channel} so far, or -1 when it is not metered (0 when it does not count per connection). */
    public static long writtenOn(io.netty.channel.Channel channel) {
        return channel != null && channel.config().getMessageSizeEstimator() instanceof TrafficMeter m ? m.written() : -1;
    }

    /** True when spliced bytes can be counted on this Netty version. */
    public static boolean countsSplicedBytes() {
        return SPLICE_OUT_TASK != null;
    }

    @Override
    public Handle newHandle() {
        return this;
    }

    @Override
    public int size(Object msg) {
        int n;
        if (msg instanceof ByteBuf buf) {
            n = buf.readableBytes();
        } else if (msg instanceof ByteBufHolder holder) {
            n = holder.content().readableBytes();
        } else if (msg instanceof FileRegion region) {
            n = (int) Math.min(Integer.MAX_VALUE, region.count() - region.transferred());
        } else if (SPLICE_OUT_TASK != null && SPLICE_OUT_TASK.isInstance(msg)) {
            n = (int) SPLICE_LEN.get(msg);
            if (n > 0) {
                spliced.increment(n);
            }
        } else {
            return 0;
        }
        sent(n);
        return n;
    }

    /** Counts {@code n} bytes written past Netty's outbound buffer (the relay's direct send). */
    void sent(int n) {
        if (n > 0) {
            if (perConnection) {
                WRITTEN.getAndAdd(this, (long) n);
            }
            bytes.increment(n);
            if (activity != null) {
                activity.touch();
            }
        }
    }
}
