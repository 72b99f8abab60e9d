package io.meshgate.gateway.terminate;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TlsPeers;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A caller that sends its ClientHello and then nothing: the handshake runs out of
 * {@code timeouts.tlsHandshake}, is counted as a failed handshake ({@code tls_error}) and logged
 * once at INFO naming listener, peer and the key to tune, without a stack trace.
 */
class HandshakeTimeoutTest {

    static final String LISTENER = "eastwest-mtls";
    static MeshPki pki;
    @AutoClose
    static TlsPeers hello = TlsPeers.forClass();

    @TempDir
    Path dir;

    @BeforeAll
    static void certificates() throws Exception {
        pki = new MeshPki();
    }

    @Test
    void aHandshakeThatTimesOutIsLoggedAtInfoNamingListenerAndPeer() throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        Logger refusals = (Logger) LoggerFactory.getLogger("io.meshgate.gateway.refusals");
        ListAppender<ILoggingEvent> lines = new ListAppender<>();
        lines.start();
        refusals.addAppender(lines);
        try (RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", "127.0.0.1:1",
                "timeouts: {tlsHandshake: 300ms}"));
             Socket silent = new Socket(gw.address().getAddress(), gw.address().getPort())) {
            silent.setSoTimeout(30_000);
            silent.getOutputStream().write(hello.clientHello(TlsPeers.SNI));
            drainUntilClosed(silent.getInputStream()); // the gateway's flight, then its close at the timeout

            await().atMost(Duration.ofSeconds(10)).until(() -> gw.handshakes(LISTENER, "error") == 1);
            await().atMost(Duration.ofSeconds(10)).until(() -> gw.outcomes(LISTENER, "tls_error") == 1);
            await().atMost(Duration.ofSeconds(10)).until(() -> !lines.list.isEmpty());
            assertThat(lines.list).singleElement().satisfies(e -> {
                assertThat(e.getLevel()).isEqualTo(Level.INFO);
                assertThat(e.getThrowableProxy()).isNull();
                assertThat(e.getFormattedMessage()).contains("listener=" + LISTENER,
                        "peer=/127.0.0.1:" + silent.getLocalPort(), "sni=\"" + TlsPeers.SNI + "\"", "reason=handshake_timeout",
                        "timeouts.tlsHandshake (300 ms)").doesNotContain("\tat ");
            });
            assertThat(gw.handshakes(LISTENER, "denied")).isZero();
        } finally {
            refusals.detachAppender(lines);
        }
    }

    private static void drainUntilClosed(InputStream in) throws IOException {
        byte[] buf = new byte[4096];
        try {
            while (in.read(buf) != -1) {
                // the ServerHello flight; the caller never answers it
            }
        } catch (java.net.SocketException reset) {
            // closed with a reset: as good as a FIN here
        }
    }
}
