package io.meshgate.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.netty.channel.Channel;
import io.netty.channel.DefaultEventLoopGroup;
import io.netty.channel.EventLoop;
import io.netty.channel.local.LocalChannel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Idle timeouts checked by the loop's watch: a connection that goes quiet closes after its
 * timeout, one that keeps writing stays, and a closed connection leaves the watch.
 */
class IdleTimeoutTest {

    private final DefaultEventLoopGroup group = new DefaultEventLoopGroup(1);
    private final EventLoop loop = group.next();

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void aQuietConnectionClosesAfterItsTimeoutAndABusyOneStays() throws Exception {
        Channel quiet = channel();
        Channel busy = channel();
        Channel quietUpstream = channel();
        IdleTimeout quietTimeout = new IdleTimeout(quiet, Duration.ofMillis(200));
        IdleTimeout busyTimeout = new IdleTimeout(busy, Duration.ofMillis(200));
        long start = System.nanoTime();
        loop.submit(() -> {
            quietTimeout.start(quietUpstream);
            busyTimeout.start(channel());
        }).sync();
        var writes = loop.scheduleAtFixedRate(busyTimeout::touch, 10, 10, TimeUnit.MILLISECONDS);

        quiet.closeFuture().await(5, TimeUnit.SECONDS);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(quiet.isOpen()).isFalse();
        assertThat(quietUpstream.closeFuture().await(5, TimeUnit.SECONDS)).as("the upstream closes with it").isTrue();
        assertThat(ms).isBetween(150L, 2_000L);
        Thread.sleep(400); // two more timeouts' worth for the busy one
        assertThat(busy.isOpen()).isTrue();

        writes.cancel(false);
        busy.closeFuture().await(5, TimeUnit.SECONDS);
        assertThat(busy.isOpen()).as("quiet from now on: closes too").isFalse();
        assertThat(loop.submit(() -> IdleWatch.of(loop).size()).get()).isZero();
    }

    @Test
    void closedConnectionsLeaveTheWatch() throws Exception {
        List<Channel> channels = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
            channels.add(channel());
        }
        loop.submit(() -> channels.forEach(ch -> new IdleTimeout(ch, Duration.ofHours(1)).start(null))).sync();
        assertThat(loop.submit(() -> IdleWatch.of(loop).size()).get()).isEqualTo(1_000);
        // Closed in an order that moves entries around in the watch's list.
        for (int i = 0; i < channels.size(); i += 2) {
            channels.get(i).close().sync();
        }
        assertThat(loop.submit(() -> IdleWatch.of(loop).size()).get()).isEqualTo(500);
        for (int i = channels.size() - 1; i >= 0; i--) {
            channels.get(i).close().sync();
        }
        assertThat(loop.submit(() -> IdleWatch.of(loop).size()).get()).isZero();
    }

    @Test
    void aWatchAddedAfterItWentQuietStartsTicking() throws Exception {
        Channel first = channel();
        loop.submit(() -> new IdleTimeout(first, Duration.ofMillis(100)).start(null)).sync();
        first.closeFuture().await(5, TimeUnit.SECONDS);
        assertThat(first.isOpen()).isFalse();
        Thread.sleep(100); // a sweep of the empty watch stops its ticks
        Channel second = channel();
        loop.submit(() -> new IdleTimeout(second, Duration.ofMillis(100)).start(null)).sync();
        await().atMost(Duration.ofSeconds(5)).until(() -> !second.isOpen());
    }

    @Test
    void aZeroTimeoutWatchesNothing() throws Exception {
        Channel ch = channel();
        loop.submit(() -> new IdleTimeout(ch, Duration.ZERO).start(null)).sync();
        assertThat(loop.submit(() -> IdleWatch.of(loop).size()).get()).isZero();
        Thread.sleep(200); // what a 10 ms check would have closed within 40 ms
        assertThat(ch.isOpen()).isTrue();
        ch.close().sync();
    }

    private Channel channel() {
        LocalChannel ch = new LocalChannel();
        loop.register(ch).syncUninterruptibly();
        return ch;
    }
}
