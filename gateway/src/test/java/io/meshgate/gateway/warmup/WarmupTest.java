package io.meshgate.gateway.warmup;

import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.routing.OutboundSni;
import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.config.Defaults;
import io.meshgate.gateway.relay.AutoSpliceRelay;
import io.meshgate.gateway.relay.CopyRelay;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.gateway.config.HostPort;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.listener.PassthroughPipeline;
import io.meshgate.gateway.testing.TestListeners;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.meshgate.gateway.relay.SpliceRelay;
import io.meshgate.gateway.testing.RawBackend;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TlsPeers;
import io.meshgate.tls.hello.ClientHelloReader;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoopGroup;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class WarmupTest {

    @TempDir
    Path dir;

    static Stream<Arguments> relays() {
        return Stream.of(
                Arguments.of(Transport.epoll(), new AutoSpliceRelay(Defaults.SPLICE_THRESHOLD)),
                Arguments.of(Transport.epoll(), new SpliceRelay()),
                Arguments.of(Transport.nio(), new CopyRelay()));
    }

    /**
     * Functional only: how fast warm-up runs is for the benchmarks to show, not a unit test on a
     * shared CI machine. The timeout is a hang guard, far above any healthy run.
     */
    @ParameterizedTest
    @MethodSource("relays")
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void completesEveryConnectionThroughTheRealPath(Transport transport, Relay relay) throws Exception {
        EventLoopGroup group = transport.newGroup(1, "warmup-test");
        try {
            Warmup.Result r = Warmup.run(group, transport, Duration.ofMillis(700), router -> new Listener(
                    TestListeners.context("warmup", new SimpleMeterRegistry(), router, transport, relay, 1, Duration.ofSeconds(5)),
                    new HostPort("127.0.0.1", 0), transport, PassthroughPipeline.passthrough()));
            // At least one per lane: a cold JVM on a starved CI core may finish no more in 700 ms.
            assertThat(r.connections()).as("connections through the %s relay", relay.name()).isGreaterThanOrEqualTo(8);
            assertThat(r.failed()).isZero();
            assertThat(r.bytes()).as("one connection in 8 sends a 128 KiB burst").isGreaterThan(r.connections() / 8 * 128L * 1024);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    @Test
    void syntheticHelloIsOneCompleteClientHelloWithItsServerName() {
        ClientHelloReader reader = new ClientHelloReader(65536);
        io.netty.buffer.ByteBuf hello = Unpooled.wrappedBuffer(SyntheticHello.withServerName(OutboundSni.format("a.b", 8080)));
        try {
            assertThat(reader.read(hello)).isEqualTo(ClientHelloReader.Status.COMPLETE);
        } finally {
            hello.release();
        }
        assertThat(reader.serverName()).isEqualTo(OutboundSni.format("a.b", 8080));
    }

    @Test
    void leavesNoTraceInTheGatewaysMetricsAndTheGatewayServesAfterwards() throws Exception {
        try (TlsPeers tls = new TlsPeers();
             RawBackend backend = new RawBackend(RawBackend.ECHO);
             RunningGateway gw = RunningGateway.start(dir, TestConfig.passthrough(backend.endpoint())
                     .set("runtime.transport", "epoll").workers(2).warmup("400ms"))) {
            assertThat(gw.outcomes("eastwest", "routed")).isZero();
            assertThat(gw.bytes("eastwest", "upstream")).isZero();
            byte[] hello = tls.clientHello(TlsPeers.SNI);
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(hello);
                assertThat(s.getInputStream().readNBytes(hello.length)).isEqualTo(hello);
            }
            org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes("eastwest", "routed") == 1);
        }
    }
}
