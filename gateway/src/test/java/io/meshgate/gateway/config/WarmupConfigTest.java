package io.meshgate.gateway.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshgate.gateway.config.GatewaySpec.WarmupSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code runtime.warmup} (the least time), {@code runtime.warmupConnections} (the count) and
 * {@code runtime.warmupMax} (the cap): defaults, how they combine, every bad value named by its key.
 */
class WarmupConfigTest {

    @TempDir
    Path dir;

    private WarmupSpec warmup(String runtime) throws Exception {
        Path f = dir.resolve("meshgate.yaml");
        Files.writeString(f, ConfigLoaderTest.MINIMAL + (runtime.isEmpty() ? "" : "runtime: {" + runtime + "}\n"));
        return ConfigLoader.loadSpec(f).runtime().warmup();
    }

    private void refused(String runtime, String... message) {
        assertThatThrownBy(() -> warmup(runtime)).isInstanceOf(ConfigException.class).hasMessageContainingAll(message);
    }

    @Test
    void defaultsAreTwoSecondsTenThousandConnectionsAndFifteenSecondsAtMost() throws Exception {
        assertThat(warmup("")).isEqualTo(new WarmupSpec(Duration.ofSeconds(2), 10_000, Duration.ofSeconds(15)));
        assertThat(warmup("").enabled()).isTrue();
    }

    @Test
    void readsTheThreeKeys() throws Exception {
        assertThat(warmup("warmup: 500ms, warmupConnections: 300, warmupMax: 20s"))
                .isEqualTo(new WarmupSpec(Duration.ofMillis(500), 300, Duration.ofSeconds(20)));
        assertThat(warmup("warmupConnections: 0")).as("0: the time budget alone")
                .isEqualTo(new WarmupSpec(Duration.ofSeconds(2), 0, Duration.ofSeconds(15)));
    }

    @Test
    void aLongerBudgetAloneRaisesTheDefaultCap() throws Exception {
        assertThat(warmup("warmup: 45s").max()).isEqualTo(Duration.ofSeconds(45));
    }

    @Test
    void aZeroBudgetTurnsTheWarmupOffWhateverTheCount() throws Exception {
        WarmupSpec off = warmup("warmup: 0s, warmupConnections: 5000");
        assertThat(off.enabled()).isFalse();
        assertThat(warmup("warmupConnections: 5000").off().enabled()).isFalse();
    }

    @Test
    void namesEveryBadValueByItsKey() {
        refused("warmupConnections: -1", "runtime.warmupConnections", "must not be negative");
        refused("warmupConnections: 1000000", "runtime.warmupConnections", "between 0 and 100000");
        refused("warmupMax: -1s", "runtime.warmupMax");
        refused("warmupMax: soon", "runtime.warmupMax");
        refused("warmupMax: 2m", "runtime.warmupMax: at most 1m");
        refused("warmup: 5s, warmupMax: 3s", "runtime.warmupMax: 3s is shorter than runtime.warmup (5s)");
        refused("warmup: -2s", "runtime.warmup");
    }
}
