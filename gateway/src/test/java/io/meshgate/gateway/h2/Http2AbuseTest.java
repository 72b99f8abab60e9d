package io.meshgate.gateway.h2;

import static io.meshgate.gateway.h2.H2Attacker.CONTINUATION;
import static io.meshgate.gateway.h2.H2Attacker.DATA;
import static io.meshgate.gateway.h2.H2Attacker.END_HEADERS;
import static io.meshgate.gateway.h2.H2Attacker.END_STREAM;
import static io.meshgate.gateway.h2.H2Attacker.HEADERS;
import static io.meshgate.gateway.h2.H2Attacker.PING;
import static io.meshgate.gateway.h2.H2Attacker.RST_STREAM;
import static io.meshgate.gateway.h2.H2Attacker.SETTINGS;
import static io.meshgate.gateway.h2.H2Attacker.frame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.H2Gateway;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TlsPeers;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http2.Http2Error;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * One test per known h2 attack, each with raw frames over a real mTLS connection: the gateway
 * closes the abusive connection (GOAWAY where the protocol allows), counts it in
 * {@code meshgate_http2_resets_total}, keeps serving a well-behaved caller on another connection,
 * and leaks nothing (PARANOID leak detection fails the class otherwise).
 */
class Http2AbuseTest {

    static final String LISTENER = H2Gateway.LISTENER;
    @RegisterExtension
    static final H2Gateway gateways = new H2Gateway();
    static final MeshPki pki = gateways.pki;
    H2Backend backend;
    RunningGateway gw;
    H2Client good;

    @BeforeEach
    void start() throws Exception {
        backend = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()));
        // Limits lowered so each flood trips quickly; the mechanism is the one the defaults use.
        gw = gateways.start("grpc", "mtls", List.of(backend.endpoint()), "http2: {prematureResetMinStreams: 100, maxQueuedControlFrames: 1000}");
        good = new H2Client(gw.address(), TlsPeers.SNI, pki.callerB, pki.clusterA.rootCert());
        assertThat(good.call("/echo").get(10, TimeUnit.SECONDS).body()).isEqualTo("a");
    }

    @AfterEach
    void stop() {
        good.close();
        gw.close();
        backend.close();
    }

    H2Attacker attacker(boolean reading) throws Exception {
        return new H2Attacker(gw.address(), TlsPeers.SNI, pki.callerB, pki.clusterA.rootCert(), reading);
    }

    void assertClosedAndOthersServed(H2Attacker attacker, long goAwayError, String cause) throws Exception {
        await().atMost(Duration.ofSeconds(20)).until(() -> !attacker.isOpen());
        if (goAwayError >= 0) {
            assertThat(attacker.goAwayError()).isEqualTo(goAwayError);
        }
        assertThat(gw.counter("meshgate.http2.resets", "listener", LISTENER, "cause", cause)).isEqualTo(1);
        assertThat(good.call("/echo").get(10, TimeUnit.SECONDS).body()).isEqualTo("a");
        assertThat(good.isOpen()).isTrue();
    }

    @Test
    void shouldCloseARapidResetConnection() throws Exception {
        try (H2Attacker a = attacker(true)) {
            ByteBuf burst = Unpooled.buffer();
            for (int i = 0; i < 300 && a.isOpen(); i++) {
                int stream = 2 * i + 1;
                burst.writeBytes(frame(HEADERS, END_HEADERS | END_STREAM, stream, a.headerBlock(H2Client.request("/hang"))));
                burst.writeBytes(frame(RST_STREAM, 0, stream, Unpooled.buffer(4).writeInt((int) Http2Error.CANCEL.code())));
            }
            a.send(burst);
            assertClosedAndOthersServed(a, Http2Error.ENHANCE_YOUR_CALM.code(), "premature");
            // The guard acted at its threshold: far fewer than the 300 streams reached the endpoint.
            assertThat(backend.requests.size()).isLessThan(1 + 150);
        }
    }

    @Test
    void shouldCloseAContinuationFlood() throws Exception {
        try (H2Attacker a = attacker(true)) {
            ByteBuf block = a.headerBlock(H2Client.request("/echo"));
            ByteBuf burst = Unpooled.buffer();
            burst.writeBytes(frame(HEADERS, 0, 1, block.readRetainedSlice(1))); // no END_HEADERS: CONTINUATION must follow
            for (int i = 0; i < 10_000; i++) {
                burst.writeBytes(frame(CONTINUATION, 0, 1, Unpooled.EMPTY_BUFFER)); // never ends the block
            }
            block.release();
            a.send(burst);
            assertClosedAndOthersServed(a, -1, "protocol");
            assertThat(backend.requests).hasSize(2); // only the good caller's two calls
        }
    }

    @Test
    void shouldCloseAnHpackBomb() throws Exception {
        try (H2Attacker a = attacker(true)) {
            ByteBuf block = a.headerBlock(H2Client.request("/echo"));
            // One 4 KB header added to the dynamic table, then referenced 1000 times: 4 MB decoded from 5 KB sent.
            byte[] value = "x".repeat(4000).getBytes(StandardCharsets.US_ASCII);
            block.writeByte(0x40).writeByte(5).writeBytes("x-big".getBytes(StandardCharsets.US_ASCII));
            block.writeByte(0x7f).writeByte(4000 - 127 & 0x7f | 0x80).writeByte(4000 - 127 >> 7).writeBytes(value);
            for (int i = 0; i < 1000; i++) {
                block.writeByte(0x80 | 62); // indexed: the newest dynamic table entry
            }
            a.send(frame(HEADERS, END_HEADERS | END_STREAM, 1, block));
            // Netty stops at the header list limit: the stream is refused (431 or RST_STREAM), or the
            // connection is closed when the block is far over it; the decoded 4 MB are never held.
            await().atMost(Duration.ofSeconds(20)).until(() -> !a.isOpen() || a.goAwayError() >= 0 || a.answeredOn(1));
            assertThat(backend.requests).hasSize(1); // the bomb never reached the endpoint
            assertThat(good.call("/echo").get(10, TimeUnit.SECONDS).body()).isEqualTo("a");
        }
    }

    @Test
    void shouldCloseAnEmptyDataFlood() throws Exception {
        try (H2Attacker a = attacker(true)) {
            ByteBuf burst = Unpooled.buffer();
            burst.writeBytes(frame(HEADERS, END_HEADERS, 1, a.headerBlock(H2Client.request("/sink"))));
            for (int i = 0; i < 1000; i++) {
                burst.writeBytes(frame(DATA, 0, 1, Unpooled.EMPTY_BUFFER));
            }
            a.send(burst);
            assertClosedAndOthersServed(a, Http2Error.ENHANCE_YOUR_CALM.code(), "protocol");
        }
    }

    @Test
    // The acks fill the attacker's 4 KiB receive buffer and http2.notSentLowWatermark (128 KiB) of the
    // gateway's socket, then queue in the gateway. 12-19 s per flood test on a 2-core box at load 15
    // (37 s once on a cold JVM); 47-115 s while the socket could buffer 4 MiB of acks first.
    @org.junit.jupiter.api.Timeout(90)
    void shouldCloseAPingFloodFromAPeerThatDoesNotRead() throws Exception {
        try (H2Attacker a = attacker(false)) {
            flood(a, PING, Unpooled.wrappedBuffer(new byte[8]));
            assertClosedAndOthersServed(a, -1, "protocol");
        }
    }

    @Test
    // Empty SETTINGS acks are 9 bytes: about twice the PING flood's frames before the acks queue.
    @org.junit.jupiter.api.Timeout(90)
    void shouldCloseASettingsFloodFromAPeerThatDoesNotRead() throws Exception {
        try (H2Attacker a = attacker(false)) {
            // Each SETTINGS frame (one entry: SETTINGS_MAX_CONCURRENT_STREAMS) must be acked; the acks queue
            // up behind a socket the attacker does not read until http2.maxQueuedControlFrames is passed.
            flood(a, SETTINGS, Unpooled.buffer(6).writeShort(0x3).writeInt(100));
            assertClosedAndOthersServed(a, -1, "protocol");
        }
    }

    /** Frames that each ask for an ack, in batches, until the gateway hangs up (or 2M frames). */
    private static void flood(H2Attacker a, int type, ByteBuf payload) {
        for (int batch = 0; batch < 200 && a.isOpen(); batch++) {
            ByteBuf burst = Unpooled.buffer();
            for (int i = 0; i < 10_000; i++) {
                burst.writeBytes(frame(type, 0, 0, payload.retainedDuplicate()));
            }
            a.sendAndWait(burst);
        }
        payload.release();
    }
}
