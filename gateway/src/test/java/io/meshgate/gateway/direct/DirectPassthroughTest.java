package io.meshgate.gateway.direct;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.HeldLoop;
import io.meshgate.gateway.testing.RawBackend;
import io.meshgate.gateway.testing.RelayMode;
import io.meshgate.gateway.testing.TlsPeers;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The direct path's relay through real sockets: bytes, half-close both ways, splice modes, backpressure, descriptors. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DirectPassthroughTest {

    private static final byte[] HELLO = DirectGateway.hello(TlsPeers.SNI);

    @TempDir
    Path dir;

    /**
     * Hundreds of connections, a few of 3 MiB, echoed byte for byte with the client's FIN passed on;
     * refusals counted; byte meters exact; spliced meters by mode; no descriptor left behind.
     */
    @ParameterizedTest
    @EnumSource(value = RelayMode.class, names = {"COPY_EPOLL", "AUTO_SPLICE", "SPLICE"})
    void relaysByteIdenticalWithHalfCloseAndLeaksNoDescriptors(RelayMode mode) throws Exception {
        byte[] unknown = DirectGateway.hello("outbound_.9999_._.nowhere.default.svc.cluster.local");
        Random random = new Random(42);
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             DirectGateway gw = DirectGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            for (int i = 0; i < 10; i++) { // warm the JVM's descriptors (loggers, classes) before counting
                roundTrip(gw, new byte[100]);
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> gw.active() == 0);
            double upBefore = gw.bytes("upstream");
            int fdsBefore = DirectGateway.fds();
            long bytes = 0;
            int connections = 200;
            for (int i = 0; i < connections; i++) {
                int size = i % 50 == 7 ? 3 * 1024 * 1024 : random.nextInt(i % 10 == 0 ? 100_000 : 2_000);
                byte[] payload = new byte[size];
                random.nextBytes(payload);
                roundTrip(gw, payload);
                bytes += HELLO.length + size;
            }
            for (byte[] refused : new byte[][] {unknown, "GET / HTTP/1.1\r\n\r\n".getBytes(), Arrays.copyOf(HELLO, 20)}) {
                try (Socket s = gw.connect()) {
                    s.getOutputStream().write(refused);
                    s.shutdownOutput();
                    assertThat(s.getInputStream().readAllBytes()).isEmpty();
                }
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("routed")).isEqualTo(connections + 10);
            assertThat(gw.outcomes("no_route")).isEqualTo(1);
            assertThat(gw.outcomes("bad_hello")).isEqualTo(2);
            assertThat(gw.bytes("upstream") - upBefore).isEqualTo(bytes);
            assertThat(gw.bytes("downstream")).isEqualTo(gw.bytes("upstream"));
            if (mode.copiesOnly()) {
                assertThat(gw.spliced("upstream") + gw.spliced("downstream")).isZero();
            } else {
                assertThat(gw.spliced("upstream")).isPositive().isLessThanOrEqualTo(gw.bytes("upstream"));
                assertThat(gw.spliced("downstream")).isPositive().isLessThanOrEqualTo(gw.bytes("downstream"));
            }
            assertThat(gw.gw.gateway().listeners().get(0).openConnections()).as("no Netty channel").isZero();
            await().atMost(Duration.ofSeconds(10)).until(() -> DirectGateway.fds() <= fdsBefore);
        }
    }

    /** The client's FIN first, while bytes before it still wait for the slow server; it answers (2 MiB) after the FIN: all arrives, then EOF. */
    @ParameterizedTest
    @EnumSource(value = RelayMode.class, names = {"COPY_EPOLL", "AUTO_SPLICE", "SPLICE"})
    void clientFinFirstThenTheServerAnswers(RelayMode mode) throws Exception {
        byte[] answer = new byte[2 * 1024 * 1024];
        new Random(7).nextBytes(answer);
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        java.util.concurrent.CountDownLatch serverSawEof = new java.util.concurrent.CountDownLatch(1);
        RawBackend.Behaviour readSlowlyThenAnswer = (s, r) -> {
            // Slower than the client: the gateway meets backpressure all along the request.
            InputStream in = s.getInputStream();
            byte[] buf = new byte[16 * 1024];
            int n;
            while ((n = in.read(buf)) > 0) {
                synchronized (got) {
                    got.write(buf, 0, n);
                }
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    return;
                }
            }
            serverSawEof.countDown();
            s.getOutputStream().write(answer);
            s.shutdownOutput();
        };
        byte[] request = new byte[4 * 1024 * 1024];
        new Random(8).nextBytes(request);
        try (RawBackend backend = new RawBackend(readSlowlyThenAnswer);
             DirectGateway gw = DirectGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            try (Socket s = gw.connect()) {
                s.getOutputStream().write(HELLO);
                s.getOutputStream().write(request);
                s.shutdownOutput();
                assertThat(Arrays.equals(s.getInputStream().readAllBytes(), answer)).isTrue();
            }
            assertThat(serverSawEof.await(5, TimeUnit.SECONDS)).isTrue();
            synchronized (got) {
                assertThat(Arrays.equals(got.toByteArray(), concat(HELLO, request))).isTrue();
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("routed")).isEqualTo(1);
        }
    }

    /** The server's FIN first (after 1 MiB); the client reads to EOF and only then sends 1 MiB more, which still arrives. */
    @ParameterizedTest
    @EnumSource(value = RelayMode.class, names = {"COPY_EPOLL", "AUTO_SPLICE", "SPLICE"})
    void serverFinFirstThenTheClientStillSends(RelayMode mode) throws Exception {
        byte[] greeting = new byte[1024 * 1024];
        new Random(9).nextBytes(greeting);
        RawBackend.Behaviour greetThenRecord = (s, r) -> {
            s.getOutputStream().write(greeting);
            s.shutdownOutput();
            r.readToEof(s.getInputStream());
        };
        byte[] late = new byte[1024 * 1024];
        new Random(10).nextBytes(late);
        try (RawBackend backend = new RawBackend(greetThenRecord);
             DirectGateway gw = DirectGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            try (Socket s = gw.connect()) {
                s.getOutputStream().write(HELLO);
                assertThat(Arrays.equals(s.getInputStream().readAllBytes(), greeting)).as("the server's bytes, then its FIN").isTrue();
                s.getOutputStream().write(late);
                s.shutdownOutput();
                RawBackend.Received received = backend.connections().get(0);
                await().atMost(Duration.ofSeconds(10)).until(received::sawEof);
                assertThat(Arrays.equals(received.bytes(), concat(HELLO, late))).isTrue();
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
        }
    }

    /**
     * Hello, request and FIN all sent before the upstream is connected: the FIN waits behind the
     * bytes and is passed on once they are out (the echo then ends).
     */
    @ParameterizedTest
    @EnumSource(value = RelayMode.class, names = {"COPY_EPOLL", "AUTO_SPLICE", "SPLICE"})
    void aFinBeforeTheUpstreamConnectsFollowsTheBytesBeforeIt(RelayMode mode) throws Exception {
        byte[] request = concat(HELLO, "all at once".getBytes());
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             DirectGateway gw = DirectGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            for (int i = 0; i < 20; i++) {
                try (Socket s = gw.connect()) {
                    s.getOutputStream().write(request);
                    s.shutdownOutput();
                    assertThat(s.getInputStream().readAllBytes()).isEqualTo(request);
                }
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("routed")).isEqualTo(20);
        }
    }

    /**
     * A server that does not read: the client's writes block once the kernel's buffers and the
     * gateway's bound are full, instead of the gateway taking everything into memory.
     */
    @ParameterizedTest
    @EnumSource(value = RelayMode.class, names = {"COPY_EPOLL", "SPLICE"})
    void aSenderBlocksWhileTheReceiverDoesNotRead(RelayMode mode) throws Exception {
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        RawBackend.Behaviour stall = (s, r) -> {
            try {
                release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        long limit = 512L * 1024 * 1024;
        try (RawBackend backend = new RawBackend(stall);
             DirectGateway gw = DirectGateway.start(dir, mode.passthrough(backend.endpoint()))) {
            AtomicLong written = new AtomicLong();
            try (Socket s = gw.connect()) {
                CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                    try {
                        OutputStream out = s.getOutputStream();
                        out.write(HELLO);
                        byte[] chunk = new byte[64 * 1024];
                        while (written.get() < limit) {
                            out.write(chunk);
                            written.addAndGet(chunk.length);
                        }
                    } catch (Exception e) {
                        // closed at the end of the test
                    }
                });
                long last = -1;
                for (int i = 0; i < 40 && written.get() != last; i++) { // until the writer stalls
                    last = written.get();
                    Thread.sleep(250);
                }
                assertThat(writer).isNotDone();
                // Loopback socket buffers are auto-tuned up to a few MiB each way; the gateway adds 64 KiB plus a read or a pipe.
                assertThat(written.get()).as("bytes the client could write").isLessThan(64L * 1024 * 1024);
                release.countDown();
            }
        }
    }

    /**
     * More bytes queued at the gateway than it reads for one connection in one turn, and nothing else
     * coming (no new edge on either socket: the server only reads): it reads on by itself. The one
     * event loop is held while the client sends 6 MiB into the accepted socket's large receive
     * buffer, then released.
     */
    @ParameterizedTest
    @EnumSource(value = RelayMode.class, names = {"COPY_EPOLL", "SPLICE"})
    void aBacklogLargerThanOneTurnIsReadOnWithoutANewEdge(RelayMode mode) throws Exception {
        byte[] payload = new byte[6 * 1024 * 1024];
        new Random(11).nextBytes(payload);
        try (RawBackend backend = new RawBackend(RawBackend.RECORD);
             DirectGateway gw = DirectGateway.start(dir, mode.passthrough(backend.endpoint()).set("runtime.workers", 1))) {
            Channel server = gw.serverChannel();
            server.config().setOption(ChannelOption.SO_RCVBUF, 8 * 1024 * 1024); // accepted sockets inherit it
            try (Socket s = gw.connect()) {
                s.setSendBufferSize(8 * 1024 * 1024);
                OutputStream out = s.getOutputStream();
                out.write(HELLO);
                await().atMost(Duration.ofSeconds(10)).until(() -> backend.connections().size() == 1
                        && backend.connections().get(0).size() == HELLO.length); // relaying
                RawBackend.Received received = backend.connections().get(0);
                HeldLoop hold = HeldLoop.hold(server.eventLoop(), Duration.ofSeconds(30));
                CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                    try {
                        out.write(payload);
                    } catch (Exception e) {
                        throw new RuntimeException(e);
                    }
                });
                try {
                    writer.get(2, TimeUnit.SECONDS); // all of it queued in the kernel's buffers (else: as much as fit)
                } catch (java.util.concurrent.TimeoutException e) {
                    // the rest goes as the gateway reads
                }
                hold.close();
                writer.get(30, TimeUnit.SECONDS);
                await().atMost(Duration.ofSeconds(20)).until(() -> received.size() == HELLO.length + payload.length);
                assertThat(Arrays.equals(received.bytes(), concat(HELLO, payload))).isTrue();
            }
        }
    }

    private static void roundTrip(DirectGateway gw, byte[] payload) throws Exception {
        try (Socket s = gw.connect()) {
            InputStream in = s.getInputStream();
            CompletableFuture<byte[]> echoed = CompletableFuture.supplyAsync(() -> {
                try {
                    ByteArrayOutputStream got = new ByteArrayOutputStream();
                    in.transferTo(got); // to EOF
                    return got.toByteArray();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            OutputStream out = s.getOutputStream();
            out.write(HELLO);
            out.write(payload);
            out.flush();
            s.shutdownOutput();
            byte[] got = echoed.get(30, TimeUnit.SECONDS);
            byte[] sent = concat(HELLO, payload);
            assertThat(got.length).isEqualTo(sent.length);
            assertThat(Arrays.equals(got, sent)).isTrue();
        }
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    private static void readFully(Socket s, byte[] into) throws Exception {
        new DataInputStream(s.getInputStream()).readFully(into);
    }
}
