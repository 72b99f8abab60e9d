package io.meshgate.gateway.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.Tags;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Per-thread byte counts: every addition of every thread counts, also after the thread ended, and the scrape shows the sum. */
class ByteCounterTest {

    @Test
    void everyThreadsAdditionsCountAlsoAfterTheThreadEnded() throws Exception {
        try (GatewayMetrics metrics = new GatewayMetrics()) {
            ByteCounter counter = ByteCounter.register(metrics.registry(), "meshgate.relay.bytes", "Bytes relayed",
                    Tags.of("listener", "eastwest", "direction", "upstream"));
            List<Thread> threads = new ArrayList<>();
            DefaultThreadFactory netty = new DefaultThreadFactory("byte-counter-test"); // FastThreadLocalThreads, as event loops
            for (int t = 0; t < 4; t++) {
                Runnable adds = () -> {
                    for (int i = 0; i < 100_000; i++) {
                        counter.increment(3);
                    }
                };
                threads.add(t % 2 == 0 ? netty.newThread(adds) : new Thread(adds));
            }
            threads.forEach(Thread::start);
            for (Thread t : threads) {
                t.join();
            }
            counter.increment(5); // this thread too
            assertThat(counter.count()).isEqualTo(4 * 100_000 * 3 + 5);
            assertThat(metrics.scrape())
                    .contains("meshgate_relay_bytes_total{direction=\"upstream\",listener=\"eastwest\"} 1200005.0");
        }
    }
}
