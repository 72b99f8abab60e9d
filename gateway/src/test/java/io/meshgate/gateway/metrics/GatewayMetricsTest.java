package io.meshgate.gateway.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class GatewayMetricsTest {

    /**
     * A timer's maximum covers the last 2 minutes of wall time, in windows that rotate every 40 s.
     * The warm-up's throwaway registry must rotate them within a few hundred recordings, or the JIT
     * compiles the connection path without the rotation (see {@code GatewayMetrics.FastClock}).
     */
    @Test
    void theThrowawayRegistrysTimeWindowsRotateWithinAWarmup() {
        MeterRegistry registry = GatewayMetrics.throwaway();
        Timer timer = Timer.builder("warmup.connect").register(registry);
        timer.record(5, TimeUnit.SECONDS);
        assertThat(timer.max(TimeUnit.SECONDS)).isEqualTo(5.0);
        for (int i = 0; i < 300; i++) {
            timer.record(1, TimeUnit.MILLISECONDS);
        }
        assertThat(timer.max(TimeUnit.SECONDS)).as("the 5-s recording has left every window").isLessThan(1.0);
        assertThat(timer.count()).isEqualTo(301);
    }

    @Test
    void theGatewaysOwnRegistryKeepsRealTime() {
        try (GatewayMetrics metrics = new GatewayMetrics()) {
            Timer timer = Timer.builder("upstream.connect").register(metrics.registry());
            timer.record(5, TimeUnit.SECONDS);
            for (int i = 0; i < 300; i++) {
                timer.record(1, TimeUnit.MILLISECONDS);
            }
            assertThat(timer.max(TimeUnit.SECONDS)).isEqualTo(5.0);
        }
    }
}
