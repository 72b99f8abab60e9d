package io.meshgate.gateway.warmup;

import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.routing.OutboundSni;
import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.config.Defaults;
import io.meshgate.gateway.config.GatewaySpec.WarmupSpec;
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

/**
 * The warm-up: real connections through the real path, at least its time budget and its
 * connection count, never past its cap; nothing of it left in the gateway's metrics.
 */
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
            Warmup.Result r = Warmup.run(group, transport, new WarmupSpec(Duration.ofMillis(700), 0, Duration.ofSeconds(40)),
                    router -> listener(router, transport, relay));
            // At least one per lane: a cold JVM on a starved CI core may finish no more in 700 ms.
            assertThat(r.connections()).as("connections through the %s relay", relay.name()).isGreaterThanOrEqualTo(8);
            assertThat(r.failed()).isZero();
            assertThat(r.capped()).isFalse();
            assertThat(r.bytes()).as("one connection in 16 sends a 128 KiB burst").isGreaterThan(r.connections() / 16 * 128L * 1024);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static Listener listener(io.meshgate.routing.Router router, Transport transport, Relay relay) {
        return new Listener(TestListeners.context("warmup", new SimpleMeterRegistry(), router, transport, relay, 1, Duration.ofSeconds(5)),
                new HostPort("127.0.0.1", 0), transport, PassthroughPipeline.passthrough());
    }

    /**
     * The count, not the clock, ends a warm-up whose time budget is over at once; the cap (a hang
     * guard here) is far away. 24 connections take every kind of warm-up connection at least once
     * (a round is 19), each of which must complete.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void runsPastATinyBudgetUntilTheConnectionCountIsReached() throws Exception {
        Transport transport = Transport.epoll();
        EventLoopGroup group = transport.newGroup(1, "warmup-test");
        try {
            Warmup.Result r = Warmup.run(group, transport, new WarmupSpec(Duration.ofMillis(1), 24, Duration.ofSeconds(50)),
                    router -> listener(router, transport, new AutoSpliceRelay(Defaults.SPLICE_THRESHOLD)));
            assertThat(r.capped()).isFalse();
            assertThat(r.connections()).as("three per lane; the time budget alone ends after one").isGreaterThanOrEqualTo(24);
            assertThat(r.failed()).isZero();
            assertThat(r.cutOff()).isZero();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /**
     * Endpoints that accept and never answer: no connection can complete, so the count is never
     * reached; the cap ends the warm-up, closes what is open and says so at WARN.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void theCapEndsAWarmupThatCannotReachItsCountAndClosesWhatIsOpen() throws Exception {
        Transport transport = Transport.epoll();
        EventLoopGroup group = transport.newGroup(1, "warmup-test");
        try (WarmupLog log = new WarmupLog();
             java.net.ServerSocket silent = new java.net.ServerSocket(0, 64, java.net.InetAddress.getLoopbackAddress())) {
            // The kernel completes the handshakes from the backlog; nobody ever reads or writes.
            io.meshgate.routing.Endpoint never = io.meshgate.routing.Endpoint.of("127.0.0.1", silent.getLocalPort());
            io.meshgate.routing.Router blackHole = new io.meshgate.routing.Router(java.util.List.of(new io.meshgate.routing.StaticRoutes(
                    java.util.List.of(new io.meshgate.routing.StaticRoutes.StaticService(Warmup.HOST, Warmup.ECHO_PORT,
                                    java.util.List.of(never), io.meshgate.routing.AppProtocol.TCP),
                            new io.meshgate.routing.StaticRoutes.StaticService(Warmup.HOST, Warmup.CLOSING_PORT,
                                    java.util.List.of(never), io.meshgate.routing.AppProtocol.TCP),
                            new io.meshgate.routing.StaticRoutes.StaticService(Warmup.HOST, Warmup.ANSWERING_PORT,
                                    java.util.List.of(never), io.meshgate.routing.AppProtocol.TCP)))));
            Duration cap = Duration.ofMillis(1500);
            Warmup.Result r = Warmup.run(group, transport, new WarmupSpec(Duration.ofMillis(100), 1000, cap),
                    ignored -> listener(blackHole, transport, new CopyRelay()));
            assertThat(r.capped()).isTrue();
            assertThat(r.connections()).isZero();
            assertThat(r.cutOff()).as("every lane's connection was open at the cap").isGreaterThanOrEqualTo(1);
            assertThat(r.failed()).isZero();
            assertThat(r.took()).isGreaterThanOrEqualTo(cap);
            assertThat(log.lines()).anySatisfy(e -> {
                assertThat(e.getLevel()).isEqualTo(ch.qos.logback.classic.Level.WARN);
                assertThat(e.getFormattedMessage()).contains("cut short by runtime.warmupMax (1500ms)", "after 0 of 1000 connections");
            });
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

    /** The close1k-shaped connections' hello: a real client's size and extensions, one complete hello. */
    @Test
    void realClientHelloIsOpenSslSizedAndCompleteWithItsServerName() {
        String name = OutboundSni.format("close.demo.svc.cluster.local", 8080);
        byte[] bytes = SyntheticHello.likeARealClient(name);
        assertThat(bytes).hasSize(517);
        ClientHelloReader reader = new ClientHelloReader(65536);
        io.netty.buffer.ByteBuf hello = Unpooled.wrappedBuffer(bytes);
        try {
            assertThat(reader.read(hello)).isEqualTo(ClientHelloReader.Status.COMPLETE);
        } finally {
            hello.release();
        }
        assertThat(reader.serverName()).isEqualTo(name);
    }

    @Test
    void leavesNoTraceInTheGatewaysMetricsAndTheGatewayServesAfterwards() throws Exception {
        try (TlsPeers tls = new TlsPeers();
             RawBackend backend = new RawBackend(RawBackend.ECHO);
             RunningGateway gw = RunningGateway.start(dir, TestConfig.passthrough(backend.endpoint())
                     .set("runtime.transport", "epoll").workers(2).warmup("400ms").set("runtime.warmupConnections", 24))) {
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

    /** A count the host cannot reach within the cap: the gateway binds after the cap, warns, and serves. */
    @Test
    void aGatewayWhoseWarmupIsCappedStillStartsAndServes() throws Exception {
        try (WarmupLog log = new WarmupLog();
             TlsPeers tls = new TlsPeers();
             RawBackend backend = new RawBackend(RawBackend.ECHO);
             RunningGateway gw = RunningGateway.start(dir, TestConfig.passthrough(backend.endpoint()).workers(1)
                     .warmup("100ms").set("runtime.warmupConnections", 100_000).set("runtime.warmupMax", "1s"))) {
            assertThat(log.lines()).singleElement().satisfies(e -> {
                assertThat(e.getLevel()).isEqualTo(ch.qos.logback.classic.Level.WARN);
                assertThat(e.getFormattedMessage()).contains("cut short by runtime.warmupMax (1s)", "of 100000 connections");
            });
            byte[] hello = tls.clientHello(TlsPeers.SNI);
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(hello);
                assertThat(s.getInputStream().readNBytes(hello.length)).isEqualTo(hello);
            }
            assertThat(gw.gateway().ready()).isTrue();
        }
    }

    /** {@code runtime.warmup: 0s} turns the warm-up off, whatever the count asks for. */
    @Test
    void aZeroBudgetRunsNoWarmupAtAll() throws Exception {
        try (WarmupLog log = new WarmupLog();
             RawBackend backend = new RawBackend(RawBackend.ECHO);
             RunningGateway gw = RunningGateway.start(dir, TestConfig.passthrough(backend.endpoint()).workers(1)
                     .warmup("0s").set("runtime.warmupConnections", 100_000))) {
            assertThat(gw.gateway().spec().runtime().warmup().enabled()).isFalse();
            assertThat(log.lines()).isEmpty();
        }
    }

    /** The warm-up's log lines while it is open. */
    private static final class WarmupLog implements AutoCloseable {
        private final ch.qos.logback.classic.Logger logger =
                (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(Warmup.class);
        private final ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> appender =
                new ch.qos.logback.core.read.ListAppender<>();

        WarmupLog() {
            appender.start();
            logger.addAppender(appender);
        }

        /** The warm-up's own lines (INFO and up), not the debug lines about single connections. */
        java.util.List<ch.qos.logback.classic.spi.ILoggingEvent> lines() {
            return appender.list.stream().filter(e -> e.getLevel().isGreaterOrEqual(ch.qos.logback.classic.Level.INFO)).toList();
        }

        @Override
        public void close() {
            logger.detachAppender(appender);
        }
    }
}
