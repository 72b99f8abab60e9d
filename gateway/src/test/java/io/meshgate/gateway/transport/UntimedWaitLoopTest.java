package io.meshgate.gateway.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * An epoll loop with nothing scheduled gives its I/O handler no deadline (it waits without a
 * timeout), and still runs what is scheduled later on time, from another thread or its own.
 */
class UntimedWaitLoopTest {

    private final EventLoopGroup group = Transport.epoll().newGroup(1, "untimed-test");
    private final EventLoop loop = group.next();

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void nothingScheduledMeansNoDeadline() throws Exception {
        assertThat(loop).isInstanceOf(UntimedWaitLoop.class);
        assertThat(loop.submit(() -> ((UntimedWaitLoop) loop).deadlineNanos()).get()).isEqualTo(-1L);
        var later = loop.schedule(() -> { }, 1, TimeUnit.HOURS);
        assertThat(loop.submit(() -> ((UntimedWaitLoop) loop).deadlineNanos()).get()).isNotEqualTo(-1L);
        later.cancel(false);
        assertThat(loop.submit(() -> ((UntimedWaitLoop) loop).deadlineNanos()).get()).isEqualTo(-1L);
    }

    @Test
    void aTaskScheduledWhileTheLoopWaitsRunsOnTime() throws Exception {
        loop.submit(() -> { }).sync();
        Thread.sleep(50); // the loop is in its untimed wait now
        long start = System.nanoTime();
        loop.schedule(() -> { }, 100, TimeUnit.MILLISECONDS).get(5, TimeUnit.SECONDS);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(90L, 2_000L);

        // Scheduled by the loop itself, just before it waits again.
        CompletableFuture<Void> ran = new CompletableFuture<>();
        start = System.nanoTime();
        loop.execute(() -> loop.schedule(() -> ran.complete(null), 100, TimeUnit.MILLISECONDS));
        ran.get(5, TimeUnit.SECONDS);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(90L, 2_000L);
    }
}
