package io.meshgate.gateway.relay;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.UnpooledUnsafeDirectByteBuf;
import io.netty.util.concurrent.FastThreadLocal;

/**
 * The allocator of a relay channel whose reads are normally sent on and released within the read
 * itself (the relay's direct send): each event loop thread lends one direct buffer of
 * {@link #CAPACITY} bytes to the next read, and takes it back when that read is released. A
 * pooled buffer costs more user-space CPU per small read than the read's whole relay (the pool's
 * thread cache, the buffer object, the chunk's pinned-memory counter, on allocation and again on
 * release); the loop's own buffer costs a reference-count reset. A read while the loop's buffer is
 * out (queued for a slow peer), a larger read, and every other allocation go to the channel's
 * previous allocator.
 *
 * <p>The lent buffer is an ordinary reference-counted buffer: released off its loop it is freed
 * (the loop makes a new one), it may grow like any unpooled buffer (it is then freed on release),
 * and Netty's leak detector tracks each loan as a buffer of its own.
 */
final class LoopReadBuffer implements ByteBufAllocator {

    /** Bytes of each loop's buffer: a whole TLS record (16 KiB of plaintext and its overhead) and more. */
    static final int CAPACITY = 32 * 1024;

    private static final FastThreadLocal<Slot> SLOTS = new FastThreadLocal<>() {
        @Override
        protected Slot initialValue() {
            return new Slot(Thread.currentThread());
        }

        @Override
        protected void onRemoval(Slot slot) {
            slot.close(); // the thread ends: free its buffer
        }
    };

    private static final LoopReadBuffer OVER_DEFAULT = new LoopReadBuffer(ByteBufAllocator.DEFAULT);

    private final ByteBufAllocator fallback;

    private LoopReadBuffer(ByteBufAllocator fallback) {
        this.fallback = fallback;
    }

    /** The allocator lending loop buffers to reads and leaving everything else to {@code fallback}. */
    static LoopReadBuffer over(ByteBufAllocator fallback) {
        if (fallback instanceof LoopReadBuffer already) {
            return already;
        }
        return fallback == ByteBufAllocator.DEFAULT ? OVER_DEFAULT : new LoopReadBuffer(fallback);
    }

    /** The loop's buffer if it is free and {@code initialCapacity} fits it, else null. */
    private ByteBuf lend(int initialCapacity, int maxCapacity) {
        if (initialCapacity > CAPACITY || maxCapacity < CAPACITY) {
            return null;
        }
        return lendOrNull();
    }

    /** The loop's buffer ({@link #CAPACITY} bytes) if it is free, else null. */
    ByteBuf lendOrNull() {
        return SLOTS.get().lend(this);
    }

    /**
     * The memory of the loop's buffer while it is free (not lent), else 0: for a read that is
     * usually sent on at once. Until the next {@link #lendOrNull} on this thread, the caller may
     * use it as scratch space; what it read there is kept when that loan comes next.
     */
    long idleMemory() {
        return SLOTS.get().idleMemory(this);
    }

    @Override
    public ByteBuf directBuffer(int initialCapacity) {
        ByteBuf lent = lend(initialCapacity, Integer.MAX_VALUE);
        return lent != null ? lent : fallback.directBuffer(initialCapacity);
    }

    @Override
    public ByteBuf directBuffer(int initialCapacity, int maxCapacity) {
        ByteBuf lent = lend(initialCapacity, maxCapacity);
        return lent != null ? lent : fallback.directBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf ioBuffer(int initialCapacity) {
        ByteBuf lent = lend(initialCapacity, Integer.MAX_VALUE);
        return lent != null ? lent : fallback.ioBuffer(initialCapacity);
    }

    @Override
    public ByteBuf ioBuffer(int initialCapacity, int maxCapacity) {
        ByteBuf lent = lend(initialCapacity, maxCapacity);
        return lent != null ? lent : fallback.ioBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf buffer() {
        return fallback.buffer();
    }

    @Override
    public ByteBuf buffer(int initialCapacity) {
        return fallback.buffer(initialCapacity);
    }

    @Override
    public ByteBuf buffer(int initialCapacity, int maxCapacity) {
        return fallback.buffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf ioBuffer() {
        return fallback.ioBuffer();
    }

    @Override
    public ByteBuf heapBuffer() {
        return fallback.heapBuffer();
    }

    @Override
    public ByteBuf heapBuffer(int initialCapacity) {
        return fallback.heapBuffer(initialCapacity);
    }

    @Override
    public ByteBuf heapBuffer(int initialCapacity, int maxCapacity) {
        return fallback.heapBuffer(initialCapacity, maxCapacity);
    }

    @Override
    public ByteBuf directBuffer() {
        return fallback.directBuffer();
    }

    @Override
    public CompositeByteBuf compositeBuffer() {
        return fallback.compositeBuffer();
    }

    @Override
    public CompositeByteBuf compositeBuffer(int maxNumComponents) {
        return fallback.compositeBuffer(maxNumComponents);
    }

    @Override
    public CompositeByteBuf compositeHeapBuffer() {
        return fallback.compositeHeapBuffer();
    }

    @Override
    public CompositeByteBuf compositeHeapBuffer(int maxNumComponents) {
        return fallback.compositeHeapBuffer(maxNumComponents);
    }

    @Override
    public CompositeByteBuf compositeDirectBuffer() {
        return fallback.compositeDirectBuffer();
    }

    @Override
    public CompositeByteBuf compositeDirectBuffer(int maxNumComponents) {
        return fallback.compositeDirectBuffer(maxNumComponents);
    }

    @Override
    public boolean isDirectBufferPooled() {
        return fallback.isDirectBufferPooled();
    }

    @Override
    public int calculateNewCapacity(int minNewCapacity, int maxCapacity) {
        return fallback.calculateNewCapacity(minNewCapacity, maxCapacity);
    }

    /** One thread's buffer (touched by that thread only, but for the reference count a foreign release ends at). */
    private static final class Slot {
        private final Thread owner;
        /** The thread's buffer, lent or not; null before the first loan. */
        private LoanedBuffer buffer;
        /** {@link #buffer} is out on loan (or was freed by a release on another thread). */
        private boolean out;
        /** The thread is ending: nothing is lent or taken back any more. */
        private boolean closed;

        Slot(Thread owner) {
            this.owner = owner;
        }

        ByteBuf lend(LoopReadBuffer alloc) {
            LoanedBuffer free = free(alloc);
            if (free == null) {
                return null;
            }
            out = true;
            return Leaks.aware(free);
        }

        long idleMemory(LoopReadBuffer alloc) {
            LoanedBuffer free = free(alloc);
            return free == null ? 0 : free.memoryAddress();
        }

        /** The thread's buffer if it is not out on loan (made anew if it never was, or was freed elsewhere), else null. */
        private LoanedBuffer free(LoopReadBuffer alloc) {
            if (closed) {
                return null;
            }
            if (out) {
                if (buffer.refCnt() != 0) {
                    return null; // still out
                }
                buffer = null; // freed elsewhere (released off this thread, or grown): make another
                out = false;
            }
            if (buffer == null) {
                buffer = new LoanedBuffer(alloc, this);
            }
            return buffer;
        }

        /** A loan ended on the owner thread: true if the buffer is taken back (else it is freed). */
        boolean takeBack(LoanedBuffer returned) {
            if (closed || Thread.currentThread() != owner || returned != buffer || returned.capacity() != CAPACITY) {
                return false;
            }
            out = false;
            return true;
        }

        void close() {
            closed = true;
            if (buffer != null && !out) {
                buffer.free();
                buffer = null;
            }
        }
    }

    /** The buffer a slot lends: on its last release it goes back to the slot instead of being freed. */
    private static final class LoanedBuffer extends UnpooledUnsafeDirectByteBuf {
        private final Slot slot;

        LoanedBuffer(ByteBufAllocator alloc, Slot slot) {
            super(alloc, CAPACITY, Integer.MAX_VALUE);
            this.slot = slot;
        }

        @Override
        protected void deallocate() {
            if (slot.takeBack(this)) {
                clear();
                resetRefCnt(); // one reference again: the next loan's
            } else {
                super.deallocate();
            }
        }

        void free() {
            super.deallocate();
        }
    }

    /** Access to the leak-detector wrapping every Netty allocator applies to what it hands out. */
    private abstract static class Leaks extends AbstractByteBufAllocator {
        static ByteBuf aware(ByteBuf buf) {
            return toLeakAwareBuffer(buf);
        }
    }
}
