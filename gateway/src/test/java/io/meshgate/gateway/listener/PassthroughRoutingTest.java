package io.meshgate.gateway.listener;

import io.meshgate.routing.OutboundSni;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.Hellos;
import io.meshgate.gateway.testing.RawBackend;
import io.meshgate.gateway.testing.RelayMode;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.gateway.testing.TlsPeers;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the passthrough listener does before relaying: refusals close without forwarding a byte
 * and are counted with their outcome; routable hellos of any shape reach an endpoint intact;
 * failed endpoints are skipped; limits hold.
 */
@org.junit.jupiter.api.extension.ExtendWith(io.meshgate.gateway.testing.UnhandledExceptions.class)
class PassthroughRoutingTest {

    @AutoClose
    static final TlsPeers tls = TlsPeers.forClass();
    static final byte[] hello = tls.sniHello();

    @TempDir
    Path dir;

    private RunningGateway gateway(String... endpoints) throws Exception {
        return gateway(c -> c, endpoints);
    }

    /** The splice passthrough config for {@code endpoints}, with what {@code extra} sets. */
    private RunningGateway gateway(UnaryOperator<TestConfig> extra, String... endpoints) throws Exception {
        return RunningGateway.start(dir, extra.apply(RelayMode.SPLICE.passthrough(endpoints)));
    }

    /** Sends bytes (optionally half-closing) and waits until the gateway closes the connection. */
    private static void sendAndExpectClose(RunningGateway gw, byte[] bytes, boolean halfClose) throws IOException {
        try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(bytes);
            if (halfClose) {
                s.shutdownOutput();
            }
            InputStream in = s.getInputStream();
            try {
                assertThat(in.read()).as("gateway answers nothing and closes").isEqualTo(-1);
            } catch (java.net.SocketException reset) {
                // a reset is a close too
            }
        }
    }

    private void assertRefused(byte[] bytes, boolean halfClose, String outcome) throws Exception {
        assertRefused(c -> c, bytes, halfClose, outcome);
    }

    private void assertRefused(UnaryOperator<TestConfig> extra, byte[] bytes, boolean halfClose, String outcome) throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.RECORD);
             RunningGateway gw = gateway(extra, backend.endpoint())) {
            sendAndExpectClose(gw, bytes, halfClose);
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes("eastwest", outcome) == 1);
            assertThat(backend.accepted()).as("nothing forwarded").isZero();
            assertThat(gw.outcomes("eastwest", "routed")).isZero();
        }
    }

    @Test
    void shouldRefuseHelloWithoutSni() throws Exception {
        assertRefused(tls.clientHello(null), false, "no_sni");
    }

    @Test
    void shouldRefuseSslv2Hello() throws Exception {
        byte[] sslv2 = {(byte) 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10,
                0x07, 0x00, (byte) 0xc0, 0x03, 0x00, (byte) 0x80, 0x01, 0x00, (byte) 0x80, 0x06, 0x00, 0x40,
                0x04, 0x00, (byte) 0x80, 0x02, 0x00, (byte) 0x80, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
        assertRefused(sslv2, false, "bad_hello");
    }

    @Test
    void shouldRefuseFirstRecordThatIsNotHandshake() throws Exception {
        assertRefused("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII), false, "bad_hello");
    }

    @Test
    void shouldRefuseHandshakeThatIsNotClientHello() throws Exception {
        assertRefused(Hellos.withHandshakeType(hello, 2), false, "bad_hello");
    }

    @Test
    void shouldRefuseInconsistentLengths() throws Exception {
        assertRefused(Hellos.withBadExtensionsLength(hello), false, "bad_hello");
    }

    @Test
    void shouldRefuseHelloOverTheCap() throws Exception {
        assertRefused(c -> c.set("limits.clientHelloMaxBytes", 1024), Hellos.padded(hello, 4096), false, "bad_hello");
    }

    @Test
    void shouldRefuseEofMidHello() throws Exception {
        assertRefused(Hellos.first(hello, hello.length / 2), true, "bad_hello");
    }

    @Test
    void shouldRefuseHelloThatDoesNotCompleteInTime() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.RECORD);
             RunningGateway gw = gateway(c -> c.timeout("clientHello", "300ms"), backend.endpoint())) {
            long start = System.nanoTime();
            sendAndExpectClose(gw, Hellos.first(hello, 20), false);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(250), Duration.ofSeconds(5));
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes("eastwest", "timeout") == 1);
            assertThat(backend.accepted()).isZero();
        }
    }

    @Test
    void shouldRefuseUnknownServiceAndNonRoutingNames() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.RECORD);
             RunningGateway gw = gateway(backend.endpoint())) {
            sendAndExpectClose(gw, tls.clientHello(OutboundSni.format("other.default.svc.cluster.local", 8080)), false);
            sendAndExpectClose(gw, tls.clientHello(OutboundSni.format("httpbin.default.svc.cluster.local", 9090)), false);
            sendAndExpectClose(gw, tls.clientHello("httpbin.default.svc.cluster.local"), false);
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes("eastwest", "no_route") == 3);
            assertThat(backend.accepted()).isZero();
        }
    }

    @Test
    void shouldMatchHostIgnoringCase() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.RECORD);
             RunningGateway gw = gateway(backend.endpoint())) {
            byte[] upper = tls.clientHello(OutboundSni.format("HTTPBIN.Default.svc.cluster.local", 8080));
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.getOutputStream().write(upper);
                await().atMost(Duration.ofSeconds(5)).until(() -> backend.connections().size() == 1
                        && backend.connections().get(0).size() == upper.length);
            }
            assertThat(backend.connections().get(0).bytes()).isEqualTo(upper);
        }
    }

    @Test
    void shouldForwardHelloLargerThan16KiBByteIdentical() throws Exception {
        byte[] big = Hellos.padded(hello, 40_000);
        assertThat(big.length).isGreaterThan(40_000);
        try (RawBackend backend = new RawBackend(RawBackend.RECORD);
             RunningGateway gw = gateway(backend.endpoint())) {
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.getOutputStream().write(big);
                s.getOutputStream().write("after".getBytes());
                s.shutdownOutput();
                await().atMost(Duration.ofSeconds(5)).until(() -> backend.connections().size() == 1
                        && backend.connections().get(0).sawEof());
            }
            byte[] got = backend.connections().get(0).bytes();
            assertThat(Arrays.copyOf(got, big.length)).isEqualTo(big);
            assertThat(new String(Arrays.copyOfRange(got, big.length, got.length))).isEqualTo("after");
            assertThat(gw.outcomes("eastwest", "routed")).isEqualTo(1);
        }
    }

    @Test
    void shouldTryTheNextEndpointWhenOneIsDown() throws Exception {
        int closedPort;
        try (ServerSocket probe = new ServerSocket(0)) {
            closedPort = probe.getLocalPort(); // nothing listens there once closed
        }
        try (RawBackend backend = new RawBackend(RawBackend.RECORD);
             RunningGateway gw = gateway(c -> c.balancing("round-robin").set("loadBalancing.connectAttempts", 2),
                     "127.0.0.1:" + closedPort, backend.endpoint())) {
            for (int i = 0; i < 4; i++) {
                try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                    s.getOutputStream().write(hello);
                    int expected = i + 1;
                    await().atMost(Duration.ofSeconds(5)).until(() -> backend.accepted() == expected);
                }
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes("eastwest", "routed") == 4);
            assertThat(gw.outcomes("eastwest", "upstream_failed")).isZero();
        }
    }

    @Test
    void shouldCountUpstreamFailedWhenEveryEndpointIsDown() throws Exception {
        int closedPort;
        try (ServerSocket probe = new ServerSocket(0)) {
            closedPort = probe.getLocalPort();
        }
        try (RunningGateway gw = gateway("127.0.0.1:" + closedPort)) {
            sendAndExpectClose(gw, hello, false);
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes("eastwest", "upstream_failed") == 1);
        }
    }

    @Test
    void shouldRefuseConnectionsOverTheListenerLimit() throws Exception {
        TestConfig config = RelayMode.SPLICE.passthrough("127.0.0.1:1").maxConnections("eastwest", 1);
        try (RunningGateway gw = RunningGateway.start(dir, config);
             Socket held = new Socket(gw.address().getAddress(), gw.address().getPort())) {
            held.getOutputStream().write(Hellos.first(hello, 10)); // stays in the hello stage
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.gateway().openConnections() == 1);
            sendAndExpectClose(gw, hello, false);
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes("eastwest", "overload") == 1);
        }
    }
}
