package io.meshgate.gateway.direct;

import io.meshgate.gateway.metrics.ByteCounter;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;

/**
 * One direction of a direct connection's relay, {@link #from} → {@link #to}: it copies through the
 * loop's read buffer, or splices through a pipe of its own (from the start, or from its first read
 * of the splice threshold or more). What the destination does not take at once waits here
 * ({@link #pending} bytes, or bytes left in the pipe) and the source is not read while that is
 * above the bound: at most {@link #HIGH_WATER} plus one read copied, one pipe spliced. The source's
 * FIN is passed on once nothing waits. Every send is counted (listener meters, the connection's
 * total for its access log entry, its idle timeout). Event loop only.
 */
final class Direction {

    /** Copying: the source is not read while this much waits for the destination. */
    static final int HIGH_WATER = 64 * 1024;
    /** Reads per event at most (to the end when the source's FIN was reported). */
    private static final int MAX_READS = 16;
    /** {@link #spliceAt}: splice from the start. */
    static final int SPLICE_ALWAYS = 0;
    /** {@link #spliceAt}: never splice. */
    static final int SPLICE_NEVER = Integer.MAX_VALUE;

    private final DirectConnection connection;
    final Side from;
    /** The destination; the upstream's changes while connect attempts fail. */
    Side to;
    private final ByteCounter bytes;
    private final ByteCounter spliced;
    /** A read of this many bytes moves the direction to splice ({@link #SPLICE_ALWAYS}, {@link #SPLICE_NEVER}). */
    private final int spliceAt;
    private boolean splicing;
    private SplicePipe pipe;
    /** Copied bytes the destination has not taken yet. */
    private ByteBuf pending;
    /** Bytes sent to the destination. */
    long sent;

    Direction(DirectConnection connection, Side from, Side to, ByteCounter bytes, ByteCounter spliced, int spliceAt, ByteBuf first) {
        this.connection = connection;
        this.from = from;
        this.to = to;
        this.bytes = bytes;
        this.spliced = spliced;
        this.spliceAt = spliceAt;
        this.splicing = spliceAt == SPLICE_ALWAYS;
        this.pending = first;
    }

    /** The destination takes bytes: connected, and not broken (what waits for a broken one is dropped at the close). */
    private boolean toReady() {
        return to != null && to.ready && !to.broken;
    }

    /** Bytes wait for the destination (copied, or in the pipe). */
    boolean waiting() {
        return pending != null || pipe != null && pipe.held() > 0;
    }

    /** Whether the source is to be read now: not at its end, and not too much waiting for the destination. */
    boolean readable() {
        if (from.eof) {
            return false;
        }
        if (splicing && toReady()) {
            return !waiting(); // a pipe's worth at most
        }
        return pending == null || pending.readableBytes() < HIGH_WATER;
    }

    /**
     * Moves what it can now: what waits, to a destination that takes bytes; then reads a source that
     * has some (within the reads-per-turn bound), unless too much waits.
     */
    void pump() {
        if (toReady() && to.outReady && waiting()) {
            flush();
        }
        if (!connection.closed() && from.inReady && readable()) {
            read(from.rdhup);
        }
    }

    /** The source has bytes left that it stopped reading at the reads-per-turn bound. */
    boolean more() {
        return from.inReady && readable();
    }

    /** Both ends of this direction are done: its FIN was read and passed on (or the destination broke). */
    boolean finished() {
        return from.eof && (to.shutOut || to.broken);
    }

    /** The source is readable; {@code toEnd}: its FIN was reported, read up to it. */
    void read(boolean toEnd) {
        if (splicing && toReady()) {
            splice(toEnd);
        } else {
            copy(toEnd);
        }
    }

    private void copy(boolean toEnd) {
        ByteBuf scratch = DirectPassthrough.scratch();
        long memory = scratch.memoryAddress();
        for (int i = 0; i < MAX_READS || toEnd; i++) {
            int n = RawSocket.recv(from.intValue(), memory, 0, DirectPassthrough.SCRATCH);
            if (n < 0) {
                if (RawSocket.again(n)) {
                    from.inReady = false;
                } else {
                    broke("recv", n);
                }
                return;
            }
            if (n == 0) {
                ended();
                return;
            }
            if (pending == null && toReady()) {
                int taken = send(memory, 0, n);
                if (taken < 0) {
                    return; // closed
                }
                if (taken < n) {
                    pending = ByteBufAllocator.DEFAULT.directBuffer(Math.max(n - taken, 4096))
                            .writeBytes(scratch.setIndex(taken, n));
                }
            } else {
                if (pending == null) {
                    pending = ByteBufAllocator.DEFAULT.directBuffer(Math.max(n, 4096));
                }
                pending.writeBytes(scratch.setIndex(0, n));
            }
            if (n >= spliceAt && toReady()) {
                splicing = true; // what is pending goes first: the source is read again (spliced) once it is out
                if (!waiting()) {
                    splice(toEnd);
                }
                return;
            }
            if (n < DirectPassthrough.SCRATCH && !toEnd) {
                from.inReady = false; // drained, as far as one read tells: more bytes would be a new edge
                return;
            }
            if (!readable()) {
                return; // enough waits: read on once it is out
            }
        }
    }

    private void splice(boolean toEnd) {
        if (pipe == null) {
            try {
                pipe = SplicePipe.open();
            } catch (IOException e) {
                connection.failed(from, "pipe: " + e.getMessage());
                return;
            }
        }
        for (int i = 0; i < MAX_READS || toEnd; i++) {
            int n = pipe.fill(from.intValue());
            if (n < 0) {
                if (RawSocket.again(n)) {
                    from.inReady = false;
                } else {
                    broke("splice", n);
                }
                return;
            }
            if (n == 0) {
                ended();
                return;
            }
            if (!drainPipe() || pipe.held() > 0) {
                return; // closed, or the destination is full: EPOLLOUT resumes
            }
        }
    }

    /** The source's end of stream: passed on once nothing waits (else when it is sent). */
    private void ended() {
        from.eof = true;
        from.inReady = false;
        if (!waiting() && toReady()) {
            passEnd();
        }
    }

    /**
     * A read of the source failed (a reset): what it sent before is still delivered, as an end of
     * stream would be; then the connection closes instead of passing a FIN on, since the source
     * takes nothing any more.
     */
    private void broke(String call, int res) {
        from.broken = true;
        connection.debugFailure(from, call, res);
        ended();
    }

    /** Nothing waits after the source's end: its FIN passed on, or the close if the source broke. */
    private void passEnd() {
        if (from.broken) {
            connection.close();
        } else {
            connection.shutOutput(to);
        }
    }

    /** The destination takes bytes again (EPOLLOUT), or just connected: sends what waits, then the FIN if it came. */
    void flush() {
        if (pending != null) {
            int taken = send(pending.memoryAddress(), pending.readerIndex(), pending.writerIndex());
            if (taken < 0) {
                return;
            }
            if (!sentFromPending(taken)) {
                return;
            }
        }
        if (pipe != null && pipe.held() > 0 && (!drainPipe() || pipe.held() > 0)) {
            return;
        }
        if (from.eof && !to.shutOut) {
            passEnd();
        }
    }

    /** False when the connection closed. */
    private boolean drainPipe() {
        int n = pipe.drain(to.intValue());
        if (n < 0) {
            connection.failed(to, "splice", n);
            return false;
        }
        if (n > 0) {
            counted(n);
            spliced.increment(n);
        }
        if (pipe.held() > 0) {
            to.full(); // its next edge says when it takes bytes again
        }
        return true;
    }

    /**
     * One send of what waits to a destination whose connect is not known to be complete: bytes taken
     * (the socket is connected), or -errno: EAGAIN while it connects, else why the connect failed
     * (nothing is closed here). Nothing waiting: EAGAIN.
     */
    int sendBeforeConnected() {
        if (pending == null) {
            return RawSocket.EAGAIN;
        }
        int res = RawSocket.send(to.intValue(), pending.memoryAddress(), pending.readerIndex(), pending.writerIndex());
        if (res > 0) {
            counted(res);
            sentFromPending(res);
        }
        return res;
    }

    /** {@code n} bytes of {@link #pending} were sent: true when none are left (then it is freed). */
    private boolean sentFromPending(int n) {
        pending.skipBytes(n);
        if (pending.isReadable()) {
            return false;
        }
        pending.release();
        pending = null;
        return true;
    }

    /** Bytes the destination took (0: none now), or -1 when it failed and the connection is closed. */
    private int send(long memory, int offset, int limit) {
        int res = RawSocket.send(to.intValue(), memory, offset, limit);
        if (res >= 0) {
            if (res > 0) {
                counted(res);
            }
            if (res < limit - offset) {
                to.full(); // its next edge says when it takes bytes again
            }
            return res;
        }
        if (RawSocket.again(res)) {
            to.full();
            return 0;
        }
        connection.failed(to, "send", res);
        return -1;
    }

    private void counted(int n) {
        sent += n;
        bytes.increment(n);
        connection.touch();
    }

    /** At close: frees what waits and the pipe. */
    void release() {
        if (pending != null) {
            pending.release();
            pending = null;
        }
        if (pipe != null) {
            pipe.close();
            pipe = null;
        }
    }
}
