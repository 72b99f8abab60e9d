package io.meshgate.gateway.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.SelectStrategy;
import io.netty.util.IntSupplier;
import java.util.ArrayDeque;
import java.util.Deque;
import org.junit.jupiter.api.Test;

class AdaptivePollSelectStrategyTest {
    private static final long WINDOW = 20_000; // 20 µs: long enough for a few scripted polls on a slow host

    private final AdaptivePollSelectStrategy strategy = new AdaptivePollSelectStrategy(WINDOW);
    /** What the next polls find; empty: nothing ready. */
    private final Deque<Integer> script = new ArrayDeque<>();
    private int polls;
    private final IntSupplier selectNow = () -> {
        polls++;
        Integer next = script.poll();
        return next == null ? 0 : next;
    };

    /** A block whose window catches an event on its second poll (the first finds nothing). */
    private int catching() throws Exception {
        script.add(0);
        script.add(2);
        return strategy.calculateStrategy(selectNow, false);
    }

    /** A block whose window passes empty (if it polls at all). */
    private int empty() throws Exception {
        script.clear();
        return strategy.calculateStrategy(selectNow, false);
    }

    /** Catching windows until it opens; fails (instead of looping) if it never does. */
    private void openIt() throws Exception {
        for (int i = 0; i < 4 * AdaptivePollSelectStrategy.PROBE_EVERY && !strategy.isOpen(); i++) {
            catching();
            script.clear();
        }
        assertThat(strategy.isOpen()).as("opened by windows that all catch an event").isTrue();
    }

    @Test
    void startsClosedAndProbesOneBlockInSixtyFour() throws Exception {
        int windows = 0;
        for (int i = 0; i < 4 * AdaptivePollSelectStrategy.PROBE_EVERY; i++) {
            int before = polls;
            assertThat(empty()).isEqualTo(SelectStrategy.SELECT);
            windows += polls > before ? 1 : 0;
        }
        assertThat(windows).isEqualTo(4);
        assertThat(strategy.isOpen()).isFalse();
    }

    @Test
    void opensWhenItsWindowsCatchEventsAndThenPollsBeforeEveryBlock() throws Exception {
        int caught = 0;
        for (int i = 0; i < 4 * AdaptivePollSelectStrategy.PROBE_EVERY && !strategy.isOpen(); i++) {
            int ready = catching();
            caught += ready > 0 ? 1 : 0;
            script.clear();
        }
        assertThat(strategy.isOpen()).isTrue();
        assertThat(caught).as("one catch opens it from nothing (a catch adds 1/16 of the way to a full score)").isEqualTo(1);

        for (int i = 0; i < 10; i++) {
            assertThat(catching()).isEqualTo(2);
        }
        assertThat(strategy.score()).isGreaterThan(AdaptivePollSelectStrategy.ONE / 2);
    }

    @Test
    void closesOnceMostWindowsPassEmpty() throws Exception {
        openIt();
        // one catch in eight windows keeps it open (the score settles near 1/8, above the closing mark)
        for (int i = 0; i < 200; i++) {
            if (i % 8 == 0) {
                assertThat(catching()).isEqualTo(2);
            } else {
                assertThat(empty()).isEqualTo(SelectStrategy.SELECT);
            }
        }
        assertThat(strategy.isOpen()).isTrue();
        // one in twenty-four closes it
        for (int i = 0; i < 400 && strategy.isOpen(); i++) {
            if (i % 24 == 0) {
                catching();
                script.clear();
            } else {
                empty();
            }
        }
        assertThat(strategy.isOpen()).isFalse();
        assertThat(strategy.score()).isLessThan(AdaptivePollSelectStrategy.CLOSE_BELOW);
        int before = polls;
        assertThat(empty()).isEqualTo(SelectStrategy.SELECT);
        assertThat(polls).as("closed: the next block does not poll").isEqualTo(before);
    }

    @Test
    void eventsAlreadyThereAreReturnedWithoutScoring() throws Exception {
        openIt();
        int score = strategy.score();
        for (int i = 0; i < 100; i++) {
            script.add(5);
            assertThat(strategy.calculateStrategy(selectNow, false)).isEqualTo(5);
        }
        assertThat(strategy.score()).isEqualTo(score);
    }

    @Test
    void aClosedLoopProbesAgainAfterEventsThatWereAlreadyThere() throws Exception {
        for (int i = 1; i < AdaptivePollSelectStrategy.PROBE_EVERY; i++) {
            empty(); // closed: no poll
        }
        script.add(3);
        assertThat(strategy.calculateStrategy(selectNow, false)).as("the probe finds events waiting").isEqualTo(3);
        int before = polls;
        assertThat(catching()).as("so the next block probes instead").isEqualTo(2);
        assertThat(polls - before).isEqualTo(2);
    }

    @Test
    void pollsOnceWhenTasksAreWaiting() throws Exception {
        assertThat(strategy.calculateStrategy(selectNow, true)).isZero();
        assertThat(polls).isEqualTo(1);
    }

    @Test
    void refusesAnEmptyWindow() {
        assertThatThrownBy(() -> new AdaptivePollSelectStrategy(0)).isInstanceOf(IllegalArgumentException.class);
    }
}
