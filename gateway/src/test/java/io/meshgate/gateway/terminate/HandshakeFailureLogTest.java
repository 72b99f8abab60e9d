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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A caller that sends its ClientHello and then nothing: the handshake runs out of
 * {@code timeouts.tlsHandshake}, is counted as a failed handshake ({@code tls_error}) and logged
 * once at INFO naming listener, peer and the key to tune, without a stack trace. Other failed
 * handshakes are logged the same way with the TLS library's error and a hint, except a caller
 * that just went away.
 */
class HandshakeFailureLogTest {

    static final String LISTENER = "eastwest-mtls";
    static MeshPki pki;
    @AutoClose
    static TlsPeers hello = TlsPeers.forClass();

    @TempDir
    Path dir;

    private final Logger refusals = (Logger) LoggerFactory.getLogger("io.meshgate.gateway.refusals");
    /** The lines of the refusal log while a test runs. */
    private final ListAppender<ILoggingEvent> lines = new ListAppender<>();

    @BeforeAll
    static void certificates() throws Exception {
        pki = new MeshPki();
    }

    @BeforeEach
    void captureRefusals() {
        lines.start();
        refusals.addAppender(lines);
    }

    @AfterEach
    void releaseRefusals() {
        refusals.detachAppender(lines);
    }

    /** A terminate gateway whose TCP route's endpoint is never reached (every caller here fails its handshake). */
    private RunningGateway gateway(String extra) throws Exception {
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        return RunningGateway.start(dir, MeshPki.terminateConfig(dir, "tcp", "mtls", "127.0.0.1:1", extra));
    }

    @Test
    void aHandshakeThatTimesOutIsLoggedAtInfoNamingListenerAndPeer() throws Exception {
        try (RunningGateway gw = gateway("timeouts: {tlsHandshake: 300ms}");
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
        }
    }

    @Test
    void aCallerThatRefusesTheGatewaysCertificateIsLoggedAtInfoWithAHint() throws Exception {
        try (RunningGateway gw = gateway("")) {
            // A real caller whose trust bundle lacks the gateway's root: curl (OpenSSL) ends the
            // handshake with alert unknown_ca.
            Path rogue = Files.createDirectories(dir.resolve("rogue"));
            MeshPki.writeBundle(rogue, pki.rogue);
            int port = gw.address().getPort();
            for (String max : List.of("1.2", "1.3")) {
                Process curl = new ProcessBuilder("curl", "-sS", "--max-time", "10", "--tls-max", max,
                        "--resolve", TlsPeers.SNI + ":" + port + ":127.0.0.1", "--cacert", rogue.resolve("bundle.pem").toString(),
                        "https://" + TlsPeers.SNI + ":" + port + "/").redirectErrorStream(true).start();
                String out = new String(curl.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                assertThat(curl.waitFor(30, TimeUnit.SECONDS)).isTrue();
                assertThat(curl.exitValue()).as(out).isEqualTo(60); // peer certificate cannot be authenticated
                int n = "1.2".equals(max) ? 1 : 2;
                await().atMost(Duration.ofSeconds(10)).until(() -> gw.outcomes(LISTENER, "tls_error") == n);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> lines.list.size() == 2);
            assertThat(lines.list).allSatisfy(e -> {
                assertThat(e.getLevel()).isEqualTo(Level.INFO);
                assertThat(e.getThrowableProxy()).isNull();
                assertThat(e.getFormattedMessage()).contains("listener=" + LISTENER, "sni=\"" + TlsPeers.SNI + "\"",
                        "reason=tls_error", "is the gateway's root in the caller's trust bundle?").doesNotContain("\tat ");
            });
            // TLS 1.2: the caller's alert as sent; TLS 1.3: OpenSSL sends it unencrypted, a bad record here.
            assertThat(lines.list.get(0).getFormattedMessage()).contains("TLSV1_ALERT_UNKNOWN_CA");
            assertThat(lines.list.get(1).getFormattedMessage()).contains("BAD_PACKET_LENGTH");
        }
    }

    @Test
    void aCallerThatLeavesBeforeTheHandshakeEndsIsCountedButNotLogged() throws Exception {
        try (RunningGateway gw = gateway("")) {
            try (Socket leaving = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                leaving.getOutputStream().write(hello.clientHello(TlsPeers.SNI));
                leaving.getInputStream().read(); // the gateway's first flight has begun: its handshake is under way
            }
            // Well before timeouts.tlsHandshake (10 s by default): the caller's close ends the handshake.
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes(LISTENER, "tls_error") == 1);
            assertThat(lines.list).as("a caller that went away (a health check, a client that gave up) is not a log line")
                    .isEmpty();
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
