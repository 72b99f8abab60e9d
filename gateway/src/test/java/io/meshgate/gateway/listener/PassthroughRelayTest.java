package io.meshgate.gateway.listener;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.meshgate.gateway.testing.FirstFlightReframer;
import io.meshgate.gateway.testing.RawBackend;
import io.meshgate.gateway.testing.RelayMode;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TestConfig;
import io.meshgate.gateway.testing.TlsPeers;
import io.meshgate.gateway.transport.Transport;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The relay suite, run in every relay mode (kernel splice, copy on epoll, copy on NIO): the same
 * behaviour is required of each.
 */
@org.junit.jupiter.api.extension.ExtendWith(io.meshgate.gateway.testing.UnhandledExceptions.class)
class PassthroughRelayTest {

    private static final int BULK = 4 * 1024 * 1024;

    @AutoClose
    static final TlsPeers tls = TlsPeers.forClass();
    static InetSocketAddress tlsBackend;

    @TempDir
    Path dir;

    @BeforeAll
    static void echoBackend() throws Exception {
        tlsBackend = tls.echoServer();
    }

    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldRelayRealTls13ThroughTheGatewayWithUnderscoreSni(RelayMode mode) throws Exception {
        try (RunningGateway gw = RunningGateway.start(dir, mode.passthrough("127.0.0.1:" + tlsBackend.getPort()))) {
            assertThat(gw.gateway().listeners().get(0).context().relay().name()).isEqualTo(mode.relay());
            Transport transport = gw.gateway().listeners().get(0).transport();
            assertThat(transport.busyPoll()).isEqualTo(mode.pollWindow());
            assertThat(transport.adaptivePoll()).isEqualTo(mode.adaptivePoll());
            assertThat(gw.gateway().listeners().get(0).direct()).as("direct path").isEqualTo(mode.direct());
            byte[] payload = "hello through the east-west gateway".getBytes();
            assertThat(tls.echo(gw.address(), TlsPeers.SNI, payload, null)).isEqualTo(payload);
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.outcomes("eastwest", "routed") == 1);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                assertThat(gw.bytes("eastwest", "upstream")).isGreaterThan(payload.length);
                assertThat(gw.bytes("eastwest", "downstream")).isGreaterThan(payload.length);
            });
            if (mode.copiesOnly()) {
                assertThat(gw.splicedBytes("eastwest", "downstream")).isZero();
            } else if (mode == RelayMode.SPLICE || mode == RelayMode.SPLICE_CHANNELS) {
                assertThat(gw.splicedBytes("eastwest", "downstream")).isGreaterThan(0);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldAcceptHelloInOneByteRecordsAndOneByteWrites(RelayMode mode) throws Exception {
        try (RunningGateway gw = RunningGateway.start(dir, mode.passthrough("127.0.0.1:" + tlsBackend.getPort()))) {
            byte[] payload = "fragmented".getBytes();
            assertThat(tls.echo(gw.address(), TlsPeers.SNI, payload, new FirstFlightReframer(new int[] {1}, 0)))
                    .isEqualTo(payload);
            assertThat(tls.echo(gw.address(), TlsPeers.SNI, payload, new FirstFlightReframer(null, 1)))
                    .isEqualTo(payload);
            // Three records with the 4-byte handshake header itself split across the first two.
            assertThat(tls.echo(gw.address(), TlsPeers.SNI, payload, new FirstFlightReframer(new int[] {2, 3, 16384}, 0)))
                    .isEqualTo(payload);
        }
    }

    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldForwardMultiMegabyteStreamsByteExactBothWays(RelayMode mode) throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             RunningGateway gw = RunningGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            byte[] hello = tls.clientHello(TlsPeers.SNI);
            byte[] data = new byte[8 * 1024 * 1024];
            new Random(42).nextBytes(data);
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.setSoTimeout(20_000);
                CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> readExactly(s, hello.length + data.length));
                OutputStream out = s.getOutputStream();
                out.write(hello);
                out.write(data);
                out.flush();
                byte[] back = echoed.get(30, TimeUnit.SECONDS);
                assertThat(Arrays.copyOf(back, hello.length)).isEqualTo(hello);
                assertThat(sha256(Arrays.copyOfRange(back, hello.length, back.length))).isEqualTo(sha256(data));
            }
            assertThat(backend.connections()).hasSize(1);
            byte[] received = backend.connections().get(0).bytes();
            assertThat(Arrays.copyOf(received, hello.length)).as("first flight forwarded byte-identical").isEqualTo(hello);
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                assertThat(gw.bytes("eastwest", "upstream")).isEqualTo(hello.length + data.length);
                assertThat(gw.bytes("eastwest", "downstream")).isEqualTo(hello.length + data.length);
            });
            for (String direction : new String[] {"upstream", "downstream"}) {
                double spliced = gw.splicedBytes("eastwest", direction);
                if (mode.splicesBulk()) {
                    assertThat(spliced).as("%s bytes spliced", direction).isGreaterThan(data.length / 2.0);
                } else {
                    assertThat(spliced).as("%s bytes spliced", direction).isZero();
                }
            }
        }
    }

    @org.junit.jupiter.api.Test
    void shouldCopySmallMessagesAndSpliceBulkStreamsByDefault() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             RunningGateway gw = RunningGateway.start(dir, TestConfig.passthrough(backend.endpoint())
                     .set("runtime.transport", "epoll").workers(2))) {
            assertThat(gw.gateway().listeners().get(0).context().relay().name()).isEqualTo("auto");
            byte[] hello = tls.clientHello(TlsPeers.SNI);
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.setSoTimeout(20_000);
                OutputStream out = s.getOutputStream();
                out.write(hello);
                readExactly(s, hello.length);
                for (int i = 0; i < 50; i++) { // request/response sized messages stay in user space
                    byte[] small = ("message " + i).getBytes();
                    out.write(small);
                    assertThat(readExactly(s, small.length)).isEqualTo(small);
                }
                assertThat(gw.splicedBytes("eastwest", "upstream")).isZero();
                assertThat(gw.splicedBytes("eastwest", "downstream")).isZero();
                byte[] bulk = new byte[BULK];
                new Random(7).nextBytes(bulk);
                CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> readExactly(s, bulk.length));
                out.write(bulk);
                assertThat(sha256(echoed.get(30, TimeUnit.SECONDS))).isEqualTo(sha256(bulk));
            }
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
                assertThat(gw.splicedBytes("eastwest", "upstream")).isGreaterThan(BULK / 2.0);
                assertThat(gw.splicedBytes("eastwest", "downstream")).isGreaterThan(BULK / 2.0);
            });
        }
    }

    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldPropagateHalfCloseFromDownstream(RelayMode mode) throws Exception {
        byte[] answer = "answer after your FIN".getBytes();
        RawBackend.Behaviour respondAfterEof = (s, r) -> {
            r.readToEof(s.getInputStream());
            s.getOutputStream().write(answer);
            s.getOutputStream().flush();
        };
        try (RawBackend backend = new RawBackend(respondAfterEof);
             RunningGateway gw = RunningGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            byte[] hello = tls.clientHello(TlsPeers.SNI);
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(hello);
                s.getOutputStream().write("request".getBytes());
                s.shutdownOutput();
                assertThat(s.getInputStream().readAllBytes()).isEqualTo(answer);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> backend.connections().get(0).sawEof());
            assertThat(backend.connections().get(0).size()).isEqualTo(hello.length + "request".length());
        }
    }

    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldPropagateHalfCloseFromUpstream(RelayMode mode) throws Exception {
        byte[] greeting = "server speaks first and closes its side".getBytes();
        RawBackend.Behaviour closeWriteFirst = (s, r) -> {
            byte[] hello = new byte[5];
            new java.io.DataInputStream(s.getInputStream()).readFully(hello);
            s.getOutputStream().write(greeting);
            s.shutdownOutput();
            r.readToEof(s.getInputStream()); // keeps reading after its own FIN
        };
        try (RawBackend backend = new RawBackend(closeWriteFirst);
             RunningGateway gw = RunningGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            byte[] hello = tls.clientHello(TlsPeers.SNI);
            byte[] late = new byte[3 * 1024 * 1024 + 10];
            new java.util.Random(7).nextBytes(late);
            System.arraycopy("late words".getBytes(), 0, late, late.length - 10, 10);
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(hello);
                assertThat(s.getInputStream().readAllBytes()).isEqualTo(greeting);
                // Our direction is still open: bytes sent after the upstream's FIN still arrive, a
                // bulk stream among them (auto-splice moves this direction to the kernel mid-way).
                s.getOutputStream().write(late);
                s.shutdownOutput();
                await().atMost(Duration.ofSeconds(10)).until(() -> backend.connections().get(0).sawEof());
            }
            byte[] got = backend.connections().get(0).bytes(); // the hello minus the 5 bytes read unrecorded, then ours
            assertThat(got).hasSize(hello.length - 5 + late.length);
            assertThat(java.util.Arrays.copyOfRange(got, hello.length - 5, got.length)).isEqualTo(late);
        }
    }

    /**
     * An endpoint that answers and then resets (SO_LINGER 0): the answer, already in the gateway's
     * socket when the reset comes, still reaches the caller; then the connection ends.
     */
    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldPassTheAnswerOnWhenTheUpstreamResetsAfterIt(RelayMode mode) throws Exception {
        byte[] hello = tls.clientHello(TlsPeers.SNI);
        byte[] answer = new byte[48 * 1024];
        new Random(11).nextBytes(answer);
        RawBackend.Behaviour answerThenReset = (s, r) -> {
            byte[] request = new byte[hello.length + 7];
            new java.io.DataInputStream(s.getInputStream()).readFully(request);
            s.getOutputStream().write(answer);
            s.getOutputStream().flush();
            s.setSoLinger(true, 0);
        }; // closed by RawBackend: a reset
        try (RawBackend backend = new RawBackend(answerThenReset);
             RunningGateway gw = RunningGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            for (int i = 0; i < 20; i++) {
                try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                    s.setSoTimeout(10_000);
                    s.getOutputStream().write(hello);
                    s.getOutputStream().write("request".getBytes());
                    byte[] got = readUntilEndOrReset(s.getInputStream());
                    assertThat(got.length).as("bytes of answer %d", i).isEqualTo(answer.length);
                    assertThat(Arrays.equals(got, answer)).as("answer %d intact", i).isTrue();
                }
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active("eastwest") == 0);
            assertThat(gw.outcomes("eastwest", "routed")).isEqualTo(20);
        }
    }

    /** A caller that resets mid-connection: the upstream connection is closed too, nothing stays open. */
    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldCloseTheUpstreamWhenTheCallerResets(RelayMode mode) throws Exception {
        java.util.concurrent.atomic.AtomicInteger ended = new java.util.concurrent.atomic.AtomicInteger();
        RawBackend.Behaviour echoUntilEnd = (s, r) -> {
            try {
                RawBackend.ECHO.serve(s, r);
            } finally {
                ended.incrementAndGet(); // by EOF or by a reset
            }
        };
        try (RawBackend backend = new RawBackend(echoUntilEnd);
             RunningGateway gw = RunningGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            byte[] hello = tls.clientHello(TlsPeers.SNI);
            for (int i = 0; i < 20; i++) {
                try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                    s.setSoTimeout(10_000);
                    s.getOutputStream().write(hello);
                    new java.io.DataInputStream(s.getInputStream()).readFully(new byte[hello.length]);
                    s.getOutputStream().write(new byte[i * 1000]); // some of it may still be in flight at the reset
                    s.setSoLinger(true, 0);
                }
            }
            int n = 20;
            await().atMost(Duration.ofSeconds(5)).until(() -> ended.get() == n && gw.active("eastwest") == 0);
            assertThat(gw.outcomes("eastwest", "routed")).isEqualTo(20);
        }
    }

    /**
     * An endpoint that answers, sends its FIN, then resets while the caller stays open and idle:
     * no read meets that reset (the upstream's end was read), yet the connection closes at once.
     */
    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldCloseWhenTheUpstreamResetsAfterItsFin(RelayMode mode) throws Exception {
        assumeTrue(mode.direct(), "a channel whose input ended no longer reads: it meets the reset at its next send or the idle timeout");
        byte[] hello = tls.clientHello(TlsPeers.SNI);
        java.util.concurrent.CountDownLatch reset = new java.util.concurrent.CountDownLatch(1);
        RawBackend.Behaviour finThenReset = (s, r) -> {
            new java.io.DataInputStream(s.getInputStream()).readFully(new byte[hello.length]);
            s.getOutputStream().write("bye".getBytes());
            s.shutdownOutput();
            try {
                reset.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            s.setSoLinger(true, 0);
        }; // closed by RawBackend: a reset
        try (RawBackend backend = new RawBackend(finThenReset);
             RunningGateway gw = RunningGateway.start(dir, mode.passthrough(backend.endpoint()).timeout("idle", "60s"))) {
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(hello);
                assertThat(s.getInputStream().readAllBytes()).isEqualTo("bye".getBytes());
                assertThat(gw.active("eastwest")).isEqualTo(1); // half-closed: our way is still open
                reset.countDown();
                await().atMost(Duration.ofSeconds(5)).until(() -> gw.active("eastwest") == 0);
            }
        }
    }

    /** Reads to the end of the stream, or to a reset once bytes came (the reset a test's peer sends). */
    private static byte[] readUntilEndOrReset(InputStream in) throws java.io.IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                got.write(buf, 0, n);
            }
        } catch (java.net.SocketException e) {
            if (!String.valueOf(e.getMessage()).contains("reset")) {
                throw e;
            }
        }
        return got.toByteArray();
    }

    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldCloseIdleConnections(RelayMode mode) throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             RunningGateway gw = RunningGateway.start(dir, mode.passthrough(backend.endpoint()).timeout("idle", "400ms"))) {
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.setSoTimeout(10_000);
                s.getOutputStream().write(tls.clientHello(TlsPeers.SNI));
                long start = System.nanoTime();
                InputStream in = s.getInputStream();
                while (in.read() >= 0) {
                    // the echoed hello, then EOF once idle
                }
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertThat(ms).isBetween(300L, 5_000L);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldKeepSmallWritesInOrderAndCountEveryByteWhileTheReaderLags(RelayMode mode) throws Exception {
        // Small reads are sent to the other socket at once unless something waits before them;
        // a lagging reader makes those sends partial and queues the rest, mixing both ways.
        byte[] data = new byte[16 * 1024 * 1024];
        new Random(7).nextBytes(data);
        byte[] hello = tls.clientHello(TlsPeers.SNI);
        RawBackend.Behaviour smallWrites = (s, r) -> {
            readExactly(s, hello.length);
            OutputStream out = s.getOutputStream();
            Random sizes = new Random(11);
            for (int at = 0; at < data.length; ) {
                int n = Math.min(data.length - at, 1 + sizes.nextInt(3000));
                out.write(data, at, n); // one send per write
                at += n;
            }
            s.shutdownOutput();
        };
        try (RawBackend backend = new RawBackend(smallWrites);
             RunningGateway gw = RunningGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.setReceiveBufferSize(64 * 1024);
                s.getOutputStream().write(hello);
                Thread.sleep(300); // the reader lags behind
                s.setSoTimeout(30_000);
                byte[] got = s.getInputStream().readAllBytes(); // up to the backend's FIN
                assertThat(got.length).isEqualTo(data.length);
                assertThat(sha256(got)).as("bytes in order").isEqualTo(sha256(data));
            }
            await().atMost(Duration.ofSeconds(5)).untilAsserted(() ->
                    assertThat(gw.bytes("eastwest", "downstream")).isEqualTo(data.length));
        }
    }

    @ParameterizedTest
    @EnumSource(RelayMode.class)
    void shouldNotBufferUnboundedlyForASlowReader(RelayMode mode) throws Exception {
        long total = 256L * 1024 * 1024;
        java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
        byte[] hello = tls.clientHello(TlsPeers.SNI);
        RawBackend.Behaviour flood = (s, r) -> {
            // Take the hello first: closing with unread input would reset the connection.
            readExactly(s, hello.length);
            byte[] chunk = new byte[64 * 1024];
            OutputStream out = s.getOutputStream();
            for (long n = 0; n < total; n += chunk.length) {
                out.write(chunk);
                sent.addAndGet(chunk.length);
            }
            s.shutdownOutput();
        };
        try (RawBackend backend = new RawBackend(flood);
             RunningGateway gw = RunningGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            io.netty.buffer.ByteBufAllocatorMetric alloc =
                    ((io.netty.buffer.ByteBufAllocatorMetricProvider) io.netty.buffer.ByteBufAllocator.DEFAULT).metric();
            // The allocator is the JVM's, shared with the tests that ran before in this fork: what they
            // left in its arenas is not this connection's buffering, so only the growth counts.
            long before = alloc.usedDirectMemory() + alloc.usedHeapMemory();
            try (Socket s = new Socket(gw.address().getAddress(), gw.address().getPort())) {
                s.setReceiveBufferSize(64 * 1024);
                s.getOutputStream().write(hello);
                // The reader does not read: the backend must stall once the buffers on the path are full.
                await().pollDelay(Duration.ofMillis(500)).atMost(Duration.ofSeconds(10)).until(() -> {
                    long a = sent.get();
                    Thread.sleep(300);
                    return sent.get() == a && a > 0;
                });
                long stalledAt = sent.get();
                assertThat(stalledAt).as("backend stalled long before the end of the stream").isLessThan(total / 4);
                assertThat(alloc.usedDirectMemory() + alloc.usedHeapMemory() - before)
                        .as("gateway buffer memory while the reader is stalled").isLessThan(32L * 1024 * 1024);
                // Now read everything: nothing was lost.
                s.setSoTimeout(30_000);
                long got = 0;
                byte[] buf = new byte[256 * 1024];
                InputStream in = s.getInputStream();
                int n;
                while ((n = in.read(buf)) > 0) {
                    got += n;
                }
                assertThat(got).isEqualTo(total);
            }
        }
    }

    private static byte[] readExactly(Socket s, int n) {
        try {
            byte[] b = new byte[n];
            new java.io.DataInputStream(s.getInputStream()).readFully(b);
            return b;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static byte[] sha256(byte[] b) throws Exception {
        return MessageDigest.getInstance("SHA-256").digest(b);
    }
}
