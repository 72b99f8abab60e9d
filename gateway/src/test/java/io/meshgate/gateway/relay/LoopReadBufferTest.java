package io.meshgate.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.UnpooledHeapByteBuf;
import io.netty.buffer.UnpooledUnsafeDirectByteBuf;
import io.netty.util.concurrent.FastThreadLocalThread;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The relay's per-loop read buffer: one loan at a time per thread, taken back on release on that
 * thread, everything else to the fallback allocator, and a buffer freed rather than reused when
 * it was released elsewhere or grew. Each test runs on a thread of its own, as a loop would.
 */
class LoopReadBufferTest {

    /** Counts what reaches the fallback. */
    private static final class CountingAllocator extends AbstractByteBufAllocator {
        final List<ByteBuf> handedOut = new ArrayList<>();

        CountingAllocator() {
            super(true);
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            ByteBuf buf = new UnpooledUnsafeDirectByteBuf(this, initialCapacity, maxCapacity);
            handedOut.add(buf);
            return buf;
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            return new UnpooledHeapByteBuf(this, initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    }

    private static void onOwnThread(ThrowingRunnable body) throws Exception {
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread loop = new FastThreadLocalThread(() -> {
            try {
                body.run();
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        loop.start();
        loop.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(loop.isAlive()).as("test thread finished").isFalse();
        if (failure.get() instanceof Exception e) {
            throw e;
        } else if (failure.get() instanceof Error e) {
            throw e;
        }
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** The buffer itself, under the leak detector's wrapper when there is one (not its memory address: freed memory is often handed out again at once). */
    private static ByteBuf underlying(ByteBuf buf) {
        return buf.unwrap() != null ? buf.unwrap() : buf;
    }

    @Test
    void shouldLendTheSameBufferToEachReadReleasedBeforeTheNext() throws Exception {
        onOwnThread(() -> {
            CountingAllocator fallback = new CountingAllocator();
            ByteBufAllocator alloc = LoopReadBuffer.over(fallback);
            ByteBuf first = alloc.directBuffer(2048);
            assertThat(first.capacity()).isEqualTo(LoopReadBuffer.CAPACITY);
            first.writeBytes(new byte[] {1, 2, 3});
            ByteBuf loan = underlying(first);
            assertThat(first.release()).isTrue();

            ByteBuf second = alloc.ioBuffer(1024);
            assertThat(underlying(second)).isSameAs(loan);
            assertThat(second.readableBytes()).as("a fresh loan starts empty").isZero();
            assertThat(second.refCnt()).isEqualTo(1);
            assertThat(second.release()).isTrue();
            assertThat(fallback.handedOut).isEmpty();
        });
    }

    @Test
    void shouldLeaveReadsToTheFallbackWhileTheBufferIsOutAndTakeItBackAfter() throws Exception {
        onOwnThread(() -> {
            CountingAllocator fallback = new CountingAllocator();
            ByteBufAllocator alloc = LoopReadBuffer.over(fallback);
            ByteBuf lent = alloc.directBuffer(2048);
            ByteBuf other = alloc.directBuffer(2048);
            assertThat(fallback.handedOut).hasSize(1);
            assertThat(underlying(other)).isNotSameAs(underlying(lent));
            other.release();
            ByteBuf loan = underlying(lent);
            lent.release();
            ByteBuf again = alloc.directBuffer(512);
            assertThat(underlying(again)).isSameAs(loan);
            again.release();
        });
    }

    @Test
    void shouldSendLargeAndHeapAndBoundedRequestsToTheFallback() throws Exception {
        onOwnThread(() -> {
            CountingAllocator fallback = new CountingAllocator();
            ByteBufAllocator alloc = LoopReadBuffer.over(fallback);
            ByteBuf large = alloc.directBuffer(LoopReadBuffer.CAPACITY + 1);
            ByteBuf bounded = alloc.directBuffer(64, 1024);
            ByteBuf heap = alloc.heapBuffer(64);
            assertThat(fallback.handedOut).hasSize(2);
            assertThat(heap.isDirect()).isFalse();
            large.release();
            bounded.release();
            heap.release();
        });
    }

    @Test
    void shouldFreeABufferReleasedOnAnotherThreadAndLendANewOne() throws Exception {
        onOwnThread(() -> {
            ByteBufAllocator alloc = LoopReadBuffer.over(new CountingAllocator());
            ByteBuf lent = alloc.directBuffer(2048);
            lent.writeInt(7);
            CompletableFuture.runAsync(lent::release).get(10, TimeUnit.SECONDS);
            assertThat(lent.refCnt()).isZero();
            ByteBuf next = alloc.directBuffer(2048);
            assertThat(next.refCnt()).isEqualTo(1);
            assertThat(next.readableBytes()).isZero();
            next.writeInt(8);
            assertThat(next.readInt()).isEqualTo(8);
            assertThat(next.release()).isTrue();
        });
    }

    @Test
    void shouldFreeABufferThatGrewAndLendAFreshOne() throws Exception {
        onOwnThread(() -> {
            ByteBufAllocator alloc = LoopReadBuffer.over(new CountingAllocator());
            ByteBuf lent = alloc.directBuffer(2048);
            lent.writeBytes(new byte[LoopReadBuffer.CAPACITY + 100]); // grows like any unpooled buffer
            assertThat(lent.capacity()).isGreaterThan(LoopReadBuffer.CAPACITY);
            assertThat(lent.release()).isTrue();
            ByteBuf next = alloc.directBuffer(2048);
            assertThat(next.capacity()).isEqualTo(LoopReadBuffer.CAPACITY);
            assertThat(next.release()).isTrue();
        });
    }

    @Test
    void shouldKeepEachLoopsBufferToItself() throws Exception {
        AtomicReference<ByteBuf> firstLoop = new AtomicReference<>();
        ByteBufAllocator alloc = LoopReadBuffer.over(new CountingAllocator());
        onOwnThread(() -> {
            ByteBuf lent = alloc.directBuffer(2048);
            firstLoop.set(underlying(lent));
            // Still out when this thread lends on another: that one must get memory of its own.
            onOwnThread(() -> {
                ByteBuf other = alloc.directBuffer(2048);
                assertThat(underlying(other)).isNotSameAs(firstLoop.get());
                other.release();
            });
            lent.release();
        });
    }

    @Test
    void shouldWrapOverItselfOnlyOnce() {
        ByteBufAllocator once = LoopReadBuffer.over(ByteBufAllocator.DEFAULT);
        assertThat(LoopReadBuffer.over(once)).isSameAs(once);
        assertThat(once.isDirectBufferPooled()).isEqualTo(ByteBufAllocator.DEFAULT.isDirectBufferPooled());
    }
}
