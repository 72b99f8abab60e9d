package io.meshgate.gateway.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.SelectStrategy;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class BusyPollSelectStrategyTest {
    private final AtomicInteger polls = new AtomicInteger();

    @Test
    void shouldReturnReadySocketsFoundWhilePolling() throws Exception {
        int ready = new BusyPollSelectStrategy(1_000_000_000L).calculateStrategy(() -> polls.incrementAndGet() < 5 ? 0 : 3, false);
        assertThat(ready).isEqualTo(3);
        assertThat(polls).hasValue(5);
    }

    @Test
    void shouldBlockOnceTheWindowPassesWithNothingReady() throws Exception {
        long window = 2_000_000L;
        long start = System.nanoTime();
        int strategy = new BusyPollSelectStrategy(window).calculateStrategy(() -> {
            polls.incrementAndGet();
            return 0;
        }, false);
        assertThat(strategy).isEqualTo(SelectStrategy.SELECT);
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(window);
        assertThat(polls.get()).isGreaterThan(1);
    }

    @Test
    void shouldNotPollWhenTasksAreWaiting() throws Exception {
        int strategy = new BusyPollSelectStrategy(1_000_000_000L).calculateStrategy(() -> {
            polls.incrementAndGet();
            return 0;
        }, true);
        assertThat(strategy).isZero(); // Netty runs the tasks, then asks again
        assertThat(polls).hasValue(1);
    }

    @Test
    void shouldRefuseAnEmptyWindow() {
        assertThatThrownBy(() -> new BusyPollSelectStrategy(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
