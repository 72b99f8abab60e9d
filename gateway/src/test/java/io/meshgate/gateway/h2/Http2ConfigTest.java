package io.meshgate.gateway.h2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.GatewaySpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code http2:} block: documented defaults, every key read, bad values named; static h2 protocols. */
class Http2ConfigTest {

    static final String MINIMAL = """
            listeners:
              - {name: eastwest, address: "127.0.0.1:0", mode: passthrough}
            discovery:
              static:
                - {host: api.default.svc.cluster.local, port: 9090, endpoints: ["127.0.0.1:9"], protocol: grpc}
                - {host: web.default.svc.cluster.local, port: 8080, endpoints: ["127.0.0.1:9"], protocol: http2}
            """;

    @TempDir
    Path dir;

    GatewaySpec load(String yaml) throws Exception {
        Path file = dir.resolve("meshgate.yaml");
        Files.writeString(file, yaml);
        return ConfigLoader.loadSpec(file);
    }

    @Test
    void shouldApplyEnvoysEdgeDefaults() throws Exception {
        Http2Limits l = Http2Limits.of(load(MINIMAL).http2(), Duration.ofSeconds(30));
        assertThat(l.maxConcurrentStreams()).isEqualTo(100);
        assertThat(l.initialStreamWindow()).isEqualTo(65536);
        assertThat(l.initialConnectionWindow()).isEqualTo(1 << 20);
        assertThat(l.maxHeaderListSize()).isEqualTo(16384);
        assertThat(l.maxConnectionAge()).isZero();
        assertThat(l.drainNotice()).isEqualTo(Duration.ofSeconds(1));
        assertThat(l.prematureResetMinStreams()).isEqualTo(500);
        assertThat(l.prematureResetMinLifetime()).isEqualTo(Duration.ofSeconds(1));
        assertThat(l.upstreamMaxConcurrentStreams()).isEqualTo(100);
        assertThat(l.notSentLowWatermark()).isEqualTo(128 * 1024);
    }

    @Test
    void shouldReadEveryKey() throws Exception {
        Http2Limits l = Http2Limits.of(load(MINIMAL + """
                http2:
                  maxConcurrentStreams: 50
                  initialStreamWindow: 131072
                  initialConnectionWindow: 4194304
                  maxHeaderListSize: 32768
                  maxConnectionAge: 10m
                  drainNotice: 2s
                  upstreamMaxConcurrentStreams: 20
                  prematureResetMinStreams: 100
                  prematureResetMinLifetime: 500ms
                  maxResetFramesPerWindow: 300
                  resetFramesWindow: 10s
                  maxQueuedControlFrames: 5000
                  maxConsecutiveEmptyDataFrames: 4
                  notSentLowWatermark: 65536
                """).http2(), Duration.ofSeconds(30));
        assertThat(l).isEqualTo(new Http2Limits(50, 131072, 4194304, 32768, Duration.ofMinutes(10), Duration.ofSeconds(2),
                Duration.ofSeconds(30), 20, 100, Duration.ofMillis(500), 300, Duration.ofSeconds(10), 5000, 4, 65536));
    }

    @Test
    void shouldNameABadValue() {
        assertThatThrownBy(() -> load(MINIMAL + "http2: {maxConcurrentStreams: 0}\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("http2.maxConcurrentStreams");
        assertThatThrownBy(() -> load(MINIMAL + "http2: {initialConnectionWindow: 1000}\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("http2.initialConnectionWindow");
        assertThatThrownBy(() -> load(MINIMAL + "http2: {maxConnectionAge: soon}\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("http2.maxConnectionAge");
        assertThatThrownBy(() -> load(MINIMAL + "http2: {streams: 5}\n"))
                .isInstanceOf(ConfigException.class).hasMessageContaining("streams");
        assertThatThrownBy(() -> load(MINIMAL.replace("protocol: grpc", "protocol: h3")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("tcp, http, http2 or grpc");
    }
}
