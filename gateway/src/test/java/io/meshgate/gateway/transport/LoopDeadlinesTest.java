package io.meshgate.gateway.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Per-connection timeouts on meshgate's epoll loops: a deadline runs on its loop, never early and
 * at most a fraction of its timeout late, a cancelled one never runs, and the loop's own schedule
 * stays empty (so it keeps waiting without a timeout); other loops fall back to their schedule.
 */
class LoopDeadlinesTest {

    private final List<EventLoopGroup> groups = new ArrayList<>();

    @AfterEach
    void stop() {
        groups.forEach(g -> g.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly());
    }

    @Test
    void aDeadlineRunsOnItsLoopNotEarlyAndLeavesTheLoopsScheduleEmpty() throws Exception {
        EventLoop loop = loop(Transport.epoll());
        CompletableFuture<Long> ran = new CompletableFuture<>();
        long start = System.nanoTime();
        LoopDeadlines.Timeout t = loop.submit(() -> LoopDeadlines.start(loop, TimeUnit.MILLISECONDS.toNanos(200),
                () -> ran.complete(loop.inEventLoop() ? System.nanoTime() : -1))).get();
        assertThat(t).isInstanceOf(LoopDeadlines.Deadline.class);
        assertThat(loop.submit(() -> ((UntimedWaitLoop) loop).deadlineNanos()).get()).as("the loop's own deadline").isEqualTo(-1L);
        long at = ran.get(5, TimeUnit.SECONDS);
        assertThat(at).as("ran on its loop").isNotEqualTo(-1L);
        assertThat(TimeUnit.NANOSECONDS.toMillis(at - start)).isBetween(200L, 1_000L);
        assertThat(loop.submit(() -> LoopDeadlines.of(loop).size()).get()).isZero();
    }

    @Test
    void aCancelledDeadlineNeverRunsAndManyLeaveNothingBehind() throws Exception {
        EventLoop loop = loop(Transport.epoll());
        AtomicInteger ran = new AtomicInteger();
        CompletableFuture<Void> kept = new CompletableFuture<>();
        loop.submit(() -> {
            List<LoopDeadlines.Timeout> all = new ArrayList<>();
            for (int i = 0; i < 1_000; i++) {
                all.add(LoopDeadlines.start(loop, TimeUnit.MILLISECONDS.toNanos(50), ran::incrementAndGet));
            }
            Collections.shuffle(all, new Random(7));
            all.forEach(LoopDeadlines.Timeout::cancel);
            all.get(0).cancel(); // twice: a no-op
            LoopDeadlines.start(loop, TimeUnit.MILLISECONDS.toNanos(100), () -> kept.complete(null));
        }).sync();
        kept.get(5, TimeUnit.SECONDS);
        Thread.sleep(100);
        assertThat(ran).hasValue(0);
        assertThat(loop.submit(() -> LoopDeadlines.of(loop).size()).get()).isZero();
    }

    @Test
    void restartingTheTicksKeepsPendingDeadlinesOnTime() throws Exception {
        EventLoop loop = loop(Transport.epoll());
        CompletableFuture<Long> ran = new CompletableFuture<>();
        long start = System.nanoTime();
        loop.submit(() -> {
            LoopDeadlines.start(loop, TimeUnit.MILLISECONDS.toNanos(200), () -> ran.complete(System.nanoTime()));
            LoopDeadlines.restartTicks(loop);
            assertThat(LoopDeadlines.of(loop).ticking()).as("started again at once: a deadline is pending").isTrue();
        }).sync();
        long at = ran.get(5, TimeUnit.SECONDS);
        assertThat(TimeUnit.NANOSECONDS.toMillis(at - start)).as("no later than a sweep after its due time").isBetween(200L, 400L);
        // Nothing pending: the ticks stay stopped until the next deadline starts them.
        loop.submit(() -> LoopDeadlines.restartTicks(loop)).sync();
        assertThat(loop.submit(() -> LoopDeadlines.of(loop).ticking()).get()).isFalse();
        CompletableFuture<Void> next = new CompletableFuture<>();
        loop.submit(() -> LoopDeadlines.start(loop, TimeUnit.MILLISECONDS.toNanos(40), () -> next.complete(null))).sync();
        next.get(5, TimeUnit.SECONDS);
        // Not on the loop's thread, or not one of meshgate's loops: nothing happens.
        LoopDeadlines.restartTicks(loop);
        EventLoop other = loop(Transport.nio());
        other.submit(() -> LoopDeadlines.restartTicks(other)).sync();
    }

    @Test
    void aLoopWithNothingPendingStopsItsTicksAndStartsThemAgain() throws Exception {
        EventLoop loop = loop(Transport.epoll());
        CompletableFuture<Void> first = new CompletableFuture<>();
        loop.submit(() -> LoopDeadlines.start(loop, TimeUnit.MILLISECONDS.toNanos(40), () -> first.complete(null))).sync();
        first.get(5, TimeUnit.SECONDS);
        await().atMost(Duration.ofSeconds(5)).until(() -> !loop.submit(() -> LoopDeadlines.of(loop).ticking()).get());
        CompletableFuture<Void> second = new CompletableFuture<>();
        loop.submit(() -> LoopDeadlines.start(loop, TimeUnit.MILLISECONDS.toNanos(40), () -> second.complete(null))).sync();
        second.get(5, TimeUnit.SECONDS);
    }

    @Test
    void otherLoopsUseTheirSchedule() throws Exception {
        EventLoop loop = loop(Transport.nio());
        CompletableFuture<Boolean> ran = new CompletableFuture<>();
        LoopDeadlines.Timeout t = loop.submit(() -> LoopDeadlines.start(loop, TimeUnit.MILLISECONDS.toNanos(50),
                () -> ran.complete(loop.inEventLoop()))).get();
        assertThat(t).isNotInstanceOf(LoopDeadlines.Deadline.class);
        assertThat(ran.get(5, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<Void> never = new CompletableFuture<>();
        loop.submit(() -> LoopDeadlines.start(loop, TimeUnit.MILLISECONDS.toNanos(50), () -> never.complete(null)).cancel()).sync();
        Thread.sleep(150);
        assertThat(never).isNotDone();
    }

    private EventLoop loop(Transport transport) {
        EventLoopGroup group = transport.newGroup(1, "deadlines-test");
        groups.add(group);
        return group.next();
    }
}
