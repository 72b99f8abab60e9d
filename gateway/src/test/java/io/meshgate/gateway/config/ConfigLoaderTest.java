package io.meshgate.gateway.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Strict config loading: every mistake is refused with a message that names the key or file. */
class ConfigLoaderTest {

    @TempDir
    Path dir;

    /** The smallest valid config (one passthrough listener); other config tests of this package build on it. */
    static final String MINIMAL = """
            listeners:
              - name: eastwest
                address: 0.0.0.0:15443
                mode: passthrough
            """;

    private Path write(String yaml) throws Exception {
        Path f = dir.resolve("meshgate.yaml");
        Files.writeString(f, yaml);
        return f;
    }

    @Test
    void shouldApplyDocumentedDefaults() throws Exception {
        MeshgateConfig c = ConfigLoader.load(write(MINIMAL));
        assertThat(c.clusterDomain()).isEqualTo("cluster.local");
        assertThat(c.admin().address()).isEqualTo("127.0.0.1:15000");
        assertThat(c.timeouts().clientHelloDuration()).isEqualTo(Duration.ofSeconds(10));
        assertThat(c.timeouts().connectDuration()).isEqualTo(Duration.ofSeconds(5));
        assertThat(c.timeouts().idleDuration()).isEqualTo(Duration.ofHours(1));
        assertThat(c.timeouts().drainDuration()).isEqualTo(Duration.ofSeconds(30));
        assertThat(c.limits().clientHelloMaxBytes()).isEqualTo(65536);
        assertThat(c.listeners().get(0).maxConnections()).isEqualTo(16384);
        assertThat(c.runtime().splice()).isEqualTo(MeshgateConfig.Splice.AUTO);
        assertThat(c.runtime().spliceThreshold()).isEqualTo(32 * 1024);
        assertThat(c.runtime().warmupDuration()).isEqualTo(Duration.ofSeconds(2));
        assertThat(c.withoutWarmup().runtime().warmupDuration()).isZero();
        GatewaySpec.RuntimeSpec runtime = ConfigBinder.bind(c, dir, false).runtime();
        assertThat(runtime.busyPoll()).isEqualTo(Duration.ofNanos(1_000));
        assertThat(runtime.adaptivePoll()).isTrue();
    }

    @Test
    void shouldReadBusyPollAndRefuseWhatCannotWork() throws Exception {
        GatewaySpec.RuntimeSpec fixed = runtime("runtime: {busyPoll: 150us}\n");
        assertThat(fixed.busyPoll()).isEqualTo(Duration.ofNanos(150_000));
        assertThat(fixed.adaptivePoll()).isFalse();
        GatewaySpec.RuntimeSpec off = runtime("runtime: {busyPoll: 0s}\n");
        assertThat(off.busyPoll()).isZero();
        assertThat(off.adaptivePoll()).isFalse();
        GatewaySpec.RuntimeSpec auto = runtime("runtime: {busyPoll: auto}\n");
        assertThat(auto.busyPoll()).isEqualTo(Duration.ofNanos(1_000));
        assertThat(auto.adaptivePoll()).isTrue();
        GatewaySpec.RuntimeSpec uring = runtime("runtime: {transport: io_uring}\n");
        assertThat(uring.busyPoll()).as("auto is off where the loop has no poll strategy").isZero();
        assertThat(uring.adaptivePoll()).isFalse();
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "runtime: {busyPoll: 1s}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("runtime.busyPoll").hasMessageContaining("10ms");
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "runtime: {warmup: 2m}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("runtime.warmup: at most 1m");
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "runtime: {busyPoll: soon}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("runtime.busyPoll").hasMessageContaining("auto");
        assertThat(runtime("runtime: {busyPoll: AUTO}\n").adaptivePoll()).isTrue();
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "runtime: {busyPoll: 100us, transport: io_uring}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("runtime.busyPoll").hasMessageContaining("io_uring");
    }

    private GatewaySpec.RuntimeSpec runtime(String yaml) throws Exception {
        return ConfigBinder.bind(ConfigLoader.load(write(MINIMAL + yaml)), dir, false).runtime();
    }

    @Test
    void shouldNameAnUnknownKeyWithItsPath() throws Exception {
        Path f = write(MINIMAL.replace("mode: passthrough", "mode: passthrough\n    colour: blue"));
        assertThatThrownBy(() -> ConfigLoader.load(f)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("meshgate.yaml").hasMessageContaining("listeners[0]").hasMessageContaining("'colour'");
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"auto,AUTO", "always,ALWAYS", "true,ALWAYS", "off,OFF", "false,OFF"})
    void shouldReadTheSpliceModeIncludingTheOldBooleans(String value, MeshgateConfig.Splice expected) throws Exception {
        MeshgateConfig c = ConfigLoader.load(write(MINIMAL + "runtime: {splice: " + value + ", spliceThreshold: 16384}\n"));
        assertThat(c.runtime().splice()).isEqualTo(expected);
        assertThat(c.runtime().spliceThreshold()).isEqualTo(16384);
    }

    @Test
    void shouldNameABadSpliceModeAndThreshold() throws Exception {
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "runtime: {splice: sometimes}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("runtime.splice").hasMessageContaining("sometimes");
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "runtime: {spliceThreshold: 1048576}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("runtime.spliceThreshold");
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "runtime: {warmup: 5m}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("runtime.warmup");
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "runtime: {warmup: soon}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("runtime.warmup");
    }

    @Test
    void shouldNameABadAddress() throws Exception {
        Path f = write(MINIMAL.replace("0.0.0.0:15443", "0.0.0.0:http"));
        assertThatThrownBy(() -> ConfigLoader.load(f)).hasMessageContaining("listeners[0].address");
    }

    @Test
    void shouldRefuseADuplicateListenerPort() throws Exception {
        Path f = write(MINIMAL + """
                  - name: second
                    address: 127.0.0.1:15443
                """);
        assertThatThrownBy(() -> ConfigLoader.load(f)).hasMessageContaining("listeners[1].address")
                .hasMessageContaining("15443").hasMessageContaining("eastwest");
    }

    @Test
    void shouldNameAMissingReferencedFile() throws Exception {
        Path f = write(MINIMAL + """
                tls:
                  certificateChain: nowhere/chain.pem
                  privateKey: key.pem
                  trustBundle: bundle.pem
                """);
        assertThatThrownBy(() -> ConfigLoader.load(f)).hasMessageContaining("tls.certificateChain")
                .hasMessageContaining("chain.pem");
    }

    @Test
    void shouldNameAMissingConfigFile() {
        assertThatThrownBy(() -> ConfigLoader.load(dir.resolve("absent.yaml"))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("absent.yaml");
    }

    @Test
    void shouldRefuseBadDurationsModesAndEndpoints() throws Exception {
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "timeouts: {idle: forever}\n")))
                .hasMessageContaining("timeouts.idle");
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL.replace("passthrough", "sideways"))))
                .hasMessageContaining("listeners[0].mode");
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + """
                discovery:
                  static:
                    - host: a.b.svc.cluster.local
                      port: 80
                      endpoints: ["db.example.com:80"]
                """))).hasMessageContaining("discovery.static[0].endpoints[0]");
    }

    @Test
    void shouldRequireTlsForTerminateListeners() throws Exception {
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL.replace("passthrough", "terminate"))))
                .hasMessageContaining("tls:");
    }

    @Test
    void shippedExampleIsValid() {
        MeshgateConfig c = ConfigLoader.load(Path.of("../docs/examples/meshgate.yaml"));
        assertThat(c.listeners()).hasSize(1);
    }

    @Test
    void shouldParseDurations() {
        assertThat(Durations.parse("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(Durations.parse("1m30s")).isEqualTo(Duration.ofSeconds(90));
        assertThat(Durations.parse("250us")).isEqualTo(Duration.ofNanos(250_000));
        assertThat(Durations.parse("1ms500us")).isEqualTo(Duration.ofNanos(1_500_000));
        assertThatThrownBy(() -> Durations.parse("10")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void exportDefaultsToLabelledAndRefusesAnUnknownPolicy() throws Exception {
        assertThat(spec(MINIMAL).discovery().export())
                .isEqualTo(io.meshgate.routing.kubernetes.ExportPolicy.LABELLED);
        assertThat(spec(MINIMAL + "discovery: {export: serviceExport}\n").discovery().export())
                .isEqualTo(io.meshgate.routing.kubernetes.ExportPolicy.SERVICE_EXPORT);
        assertThat(spec(MINIMAL + "discovery: {export: all}\n").discovery().export())
                .isEqualTo(io.meshgate.routing.kubernetes.ExportPolicy.ALL);
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "discovery: {export: everything}\n")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("discovery.export: expected labelled, serviceExport or all, got 'everything'");
    }

    @Test
    void accessLogIsOffByDefaultAndItsKeysAreChecked() throws Exception {
        assertThat(ConfigLoader.load(write(MINIMAL)).accessLog()).isNull();
        MeshgateConfig.AccessLog stdout = ConfigLoader.load(write(MINIMAL + "accessLog: {}\n")).accessLog();
        assertThat(stdout.path()).isEqualTo(MeshgateConfig.AccessLog.STDOUT);
        assertThat(spec(MINIMAL + "accessLog: {}\n").accessLog().orElseThrow().file()).isEmpty();
        assertThat(stdout.queueSize()).isEqualTo(8192);
        assertThat(ConfigLoader.load(write(MINIMAL + "accessLog: {path: logs.json, queueSize: 64}\n")).accessLog().path())
                .isEqualTo("logs.json");
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "accessLog: {path: missing/access.json}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("accessLog.path: folder").hasMessageContaining("missing");
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "accessLog: {queueSize: 1}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("accessLog.queueSize");
        assertThatThrownBy(() -> ConfigLoader.load(write(MINIMAL + "accessLog: {format: text}\n")))
                .isInstanceOf(ConfigException.class).hasMessageContaining("accessLog").hasMessageContaining("format");
    }

    private GatewaySpec spec(String yaml) throws Exception {
        Path file = write(yaml);
        return ConfigLoader.loadSpec(file);
    }
}
