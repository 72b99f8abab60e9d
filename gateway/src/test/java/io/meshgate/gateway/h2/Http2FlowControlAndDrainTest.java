package io.meshgate.gateway.h2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.H2Gateway;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TlsPeers;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Backpressure end to end over real sockets (a stalled stream costs the gateway one window, never
 * an unbounded buffer, and its neighbours on the same connections keep flowing) and the h2 drain:
 * two-step GOAWAY with in-flight streams completing, and {@code http2.maxConnectionAge}.
 */
class Http2FlowControlAndDrainTest {

    static final String LISTENER = H2Gateway.LISTENER;
    @RegisterExtension
    static final H2Gateway gateways = new H2Gateway();
    static final MeshPki pki = gateways.pki;

    RunningGateway gateway(H2Backend backend, String extra) throws Exception {
        return gateways.start("grpc", "mtls", List.of(backend.endpoint()), extra);
    }

    H2Client client(RunningGateway gw) throws Exception {
        return new H2Client(gw.address(), TlsPeers.SNI, pki.callerB, pki.clusterA.rootCert());
    }

    @Test
    void shouldHoldAnUploadToAStalledEndpointToAboutTwoWindowsWhileOtherStreamsFlow() throws Exception {
        try (H2Backend a = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()));
             RunningGateway gw = gateway(a, ""); H2Client client = client(gw)) {
            client.upload("/sink", 512, 16 * 1024); // 8 MiB towards an endpoint that reads nothing
            await().atMost(Duration.ofSeconds(5)).until(() -> client.uploaded.get() > 0);
            Thread.sleep(1500);
            // The client's window at the gateway (64 KiB) plus what the gateway could pass to the endpoint's
            // window (64 KiB) and one stream channel's write buffer: nothing near the 8 MiB offered.
            assertThat(client.uploaded.get()).isLessThan(512 * 1024);
            assertThat(a.bytesReceived.get()).isZero();
            // Other streams of the same downstream and upstream connections are not held up.
            for (int i = 0; i < 5; i++) {
                H2Client.Reply r = client.call("/echo").get(5, TimeUnit.SECONDS);
                assertThat(r.body()).isEqualTo("a");
            }
            assertThat(a.connections.get()).isEqualTo(1);
        }
    }

    @Test
    void shouldRelayALargeResponseThroughBothWindows() throws Exception {
        try (H2Backend a = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()));
             RunningGateway gw = gateway(a, ""); H2Client client = client(gw)) {
            CompletableFuture<H2Client.Reply> big = client.call("/big/2048");
            // However slow the machine, the bytes must keep moving: no 5 s without progress, and none lost.
            long seen = -1;
            long since = System.nanoTime();
            while (!big.isDone()) {
                long now = client.received.get();
                if (now != seen) {
                    seen = now;
                    since = System.nanoTime();
                }
                assertThat(System.nanoTime() - since)
                        .as("stalled: caller has %d bytes, endpoint wrote %d", now, a.bytesSent.get())
                        .isLessThan(TimeUnit.SECONDS.toNanos(5));
                Thread.sleep(20);
            }
            H2Client.Reply r = big.get();
            assertThat(r.body()).hasSize(2048 * 1024);
            assertThat(r.trailer("grpc-status")).isEqualTo("0");
        }
    }

    @Test
    void shouldStopReadingTheEndpointWhileTheCallerDoesNotRead() throws Exception {
        try (H2Backend a = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()));
             RunningGateway gw = gateway(a, ""); H2Client client = client(gw)) {
            CompletableFuture<H2Client.Reply> big = client.stalled("/big/1024"); // 1 MiB to a caller that reads nothing
            await().atMost(Duration.ofSeconds(5)).until(() -> a.bytesSent.get() > 0);
            Thread.sleep(1500);
            assertThat(a.bytesSent.get()).isLessThan(400 * 1024); // about two 64 KiB windows and a write buffer
            assertThat(client.call("/echo").get(5, TimeUnit.SECONDS).body()).isEqualTo("a");
            client.resume();
            H2Client.Reply r = big.get(20, TimeUnit.SECONDS);
            assertThat(r.body()).hasSize(1024 * 1024);
            assertThat(r.trailer("grpc-status")).isEqualTo("0");
        }
    }

    @Test
    void shouldKeepAStalledStreamsUpstreamWindowShutWhileANeighbourOnTheSameUpstreamConnectionFlows() throws Exception {
        try (H2Backend a = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()));
             RunningGateway gw = gateway(a, ""); H2Client client = client(gw)) {
            CompletableFuture<H2Client.Reply> stalled = client.stalled("/big/1024"); // 1 MiB the caller does not read
            await().atMost(Duration.ofSeconds(5)).until(() -> a.bytesSent.get() > 0);
            // A neighbour of 2 MiB on the same downstream connection and the same upstream connection.
            H2Client.Reply neighbour = client.call("/big/2048").get(20, TimeUnit.SECONDS);
            assertThat(neighbour.body()).hasSize(2048 * 1024);
            assertThat(a.connections.get()).isEqualTo(1);
            Thread.sleep(500);
            // What the endpoint got onto the wire for the stalled stream: its window at the gateway, owed, not returned.
            assertThat(a.bytesSent.get() - 2048 * 1024).isLessThan(400 * 1024);
            client.resume();
            H2Client.Reply r = stalled.get(20, TimeUnit.SECONDS);
            assertThat(r.body()).hasSize(1024 * 1024);
            assertThat(r.trailer("grpc-status")).isEqualTo("0");
        }
    }

    /** A test given a thread that drains the gateway once started. */
    @FunctionalInterface
    interface DrainTest {
        void run(Thread drain) throws Exception;
    }

    /**
     * Runs {@code test} with a thread that drains {@code gw} when the test starts it. drain() ends
     * with the gateway closed, so afterwards the gateway is closed here only if the drain never ran;
     * else the drain is waited for.
     */
    static void withDrainThread(RunningGateway gw, DrainTest test) throws Exception {
        Thread drain = new Thread(() -> gw.gateway().drain());
        try {
            test.run(drain);
        } finally {
            if (drain.getState() == Thread.State.NEW) {
                gw.close();
            } else {
                drain.join(15_000);
            }
        }
    }

    @Test
    void shouldSendTwoGoAwaysOnDrainAndLetOpenStreamsFinish() throws Exception {
        try (H2Backend a = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()))) {
            RunningGateway gw = gateway(a, "http2: {drainNotice: 300ms}\ntimeouts: {drain: 10s}");
            withDrainThread(gw, drain -> {
                try (H2Client client = client(gw)) {
                    assertThat(client.call("/echo").get(5, TimeUnit.SECONDS).body()).isEqualTo("a");
                    CompletableFuture<H2Client.Reply> inFlight = client.call("/stream/100"); // ~1 s of messages
                    await().atMost(Duration.ofSeconds(5)).until(() -> a.openStreams.get() == 1);
                    long start = System.nanoTime();
                    drain.start();
                    await().atMost(Duration.ofSeconds(5)).until(() -> client.goAways.get() == 2);
                    // The notice refuses nothing yet; the final one names the in-flight stream (the client's second).
                    assertThat(client.goAwayStreamIds).containsExactly(Integer.MAX_VALUE, 5);
                    H2Client.Reply r = inFlight.get(10, TimeUnit.SECONDS);
                    assertThat(r.body().lines()).hasSize(100);
                    assertThat(r.trailer("grpc-status")).isEqualTo("0");
                    await().atMost(Duration.ofSeconds(2)).until(() -> !client.isOpen());
                    assertThat(gw.counter("meshgate.http2.goaways", "listener", LISTENER, "direction", "sent")).isEqualTo(2);
                    drain.join(10_000);
                    assertThat(drain.isAlive()).isFalse();
                    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(8));
                }
            });
        }
    }

    /**
     * A stream still open when {@code timeouts.drain} is over is cut off then: the close at the end
     * of the drain does not give the connection's streams another {@code timeouts.drain} (Netty's
     * graceful shutdown waits for them by default).
     */
    @Test
    void shouldCloseAConnectionWhoseStreamOutlivesTheDrainTimeoutWhenItEnds() throws Exception {
        try (H2Backend a = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()))) {
            RunningGateway gw = gateway(a, "http2: {drainNotice: 100ms}\ntimeouts: {drain: 2s}");
            withDrainThread(gw, drain -> {
                try (H2Client client = client(gw)) {
                    CompletableFuture<H2Client.Reply> endless = client.call("/stream/3000"); // ~30 s of messages
                    await().atMost(Duration.ofSeconds(5)).until(() -> a.openStreams.get() == 1);
                    long start = System.nanoTime();
                    drain.start();
                    drain.join(20_000);
                    Duration took = Duration.ofNanos(System.nanoTime() - start);
                    assertThat(drain.isAlive()).isFalse();
                    assertThat(took).as("the drain's 2 s, not twice that").isLessThan(Duration.ofMillis(3_500));
                    await().atMost(Duration.ofSeconds(5)).until(() -> !client.isOpen());
                    assertThat(endless.isDone()).isTrue();
                }
            });
        }
    }

    @Test
    void shouldDrainConnectionsOlderThanMaxConnectionAge() throws Exception {
        try (H2Backend a = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()));
             RunningGateway gw = gateway(a, "http2: {maxConnectionAge: 500ms, drainNotice: 100ms}"); H2Client client = client(gw)) {
            assertThat(client.call("/echo").get(5, TimeUnit.SECONDS).body()).isEqualTo("a");
            await().atMost(Duration.ofSeconds(3)).until(() -> client.goAways.get() == 2 && !client.isOpen());
            // The gateway itself keeps serving: a new connection works.
            try (H2Client next = client(gw)) {
                assertThat(next.call("/echo").get(5, TimeUnit.SECONDS).body()).isEqualTo("a");
            }
        }
    }
}
