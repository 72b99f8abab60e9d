package io.meshgate.gateway.direct;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshgate.gateway.testing.RawBackend;
import io.meshgate.gateway.testing.RelayMode;
import io.meshgate.gateway.testing.TlsPeers;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The direct path's limits and life cycle through real sockets: timeouts, attempts, access log, drain, overload, IPv6. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DirectConnectionLifecycleTest {

    private static final byte[] HELLO = DirectGateway.hello(TlsPeers.SNI);

    @TempDir
    Path dir;

    /** {@code timeouts.clientHello}: half a hello, then silence: closed with outcome {@code timeout}, not before the timeout. */
    @Test
    void closesAHelloThatDoesNotCompleteInTime() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough(backend.endpoint())
                     .timeout("clientHello", "400ms"))) {
            try (Socket s = gw.connect()) {
                long start = System.nanoTime();
                s.getOutputStream().write(Arrays.copyOf(HELLO, 30));
                assertThat(s.getInputStream().read()).as("closed by the gateway").isEqualTo(-1);
                assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(350L, 5_000L);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("timeout")).isEqualTo(1);
            assertThat(gw.outcomes("bad_hello")).isZero();
            assertThat(backend.accepted()).isZero();
        }
    }

    /** A refused endpoint is a failed try, counted, and the next candidate is tried: every connection is routed. */
    @Test
    void triesTheNextEndpointWhenOneRefuses() throws Exception {
        int closedPort;
        try (ServerSocket gone = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = gone.getLocalPort();
        }
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough("127.0.0.1:" + closedPort, backend.endpoint())
                     .balancing("round-robin").set("loadBalancing.connectAttempts", 2))) {
            for (int i = 0; i < 4; i++) {
                echo(gw, "ping " + i);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("routed")).isEqualTo(4);
            assertThat(gw.connectFailures()).as("round-robin starts on the refusing endpoint every other time").isEqualTo(2);
            assertThat(backend.accepted()).isEqualTo(4);
        }
    }

    /** {@code timeouts.connect}: an endpoint that never answers the SYN fails the try after the timeout; all tries failed: upstream_failed. */
    @Test
    void givesUpOnAnEndpointThatDoesNotAnswerAfterTheConnectTimeout() throws Exception {
        List<Socket> fillers = new ArrayList<>();
        try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough("127.0.0.1:" + full.getLocalPort())
                     .timeout("connect", "500ms"))) {
            fillAcceptQueue(full, fillers);
            try (Socket s = gw.connect()) {
                long start = System.nanoTime();
                s.getOutputStream().write(HELLO);
                assertThat(s.getInputStream().read()).isEqualTo(-1);
                assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(450L, 5_000L);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("upstream_failed")).isEqualTo(1);
            assertThat(gw.connectFailures()).isEqualTo(1);
        } finally {
            for (Socket c : fillers) {
                c.close();
            }
        }
    }

    /**
     * A connect still in progress after {@code connect()} (the endpoint's accept queue is full, so its
     * SYN waits for a retransmission): the hello waits, and goes once the connect completes (its
     * EPOLLOUT), within {@code timeouts.connect}; the answer reaches the client.
     */
    @Test
    void sendsTheHelloOnceAConnectInProgressCompletes() throws Exception {
        List<Socket> fillers = new ArrayList<>();
        try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough("127.0.0.1:" + full.getLocalPort())
                     .timeout("connect", "10s"))) {
            fillAcceptQueue(full, fillers);
            try (Socket s = gw.connect()) {
                s.getOutputStream().write(HELLO);
                Thread.sleep(300); // the gateway's SYN was dropped
                full.setSoTimeout(10_000);
                byte[] got = null;
                for (int i = 0; i < fillers.size() + 1 && got == null; i++) { // the queue drains; the retransmitted SYN gets in
                    Socket accepted = full.accept();
                    fillers.add(accepted);
                    accepted.setSoTimeout(200);
                    try {
                        byte[] b = new byte[HELLO.length];
                        new java.io.DataInputStream(accepted.getInputStream()).readFully(b);
                        got = b;
                        accepted.getOutputStream().write("answer".getBytes());
                    } catch (SocketTimeoutException | java.io.EOFException e) {
                        // a filler: nothing comes from it
                    }
                }
                assertThat(got != null && Arrays.equals(got, HELLO)).as("the endpoint got the hello").isTrue();
                byte[] answer = new byte[6];
                new java.io.DataInputStream(s.getInputStream()).readFully(answer);
                assertThat(new String(answer)).isEqualTo("answer");
            }
            for (Socket c : fillers) {
                c.close(); // the endpoint's side too: the connection ends
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("routed")).isEqualTo(1);
            assertThat(gw.connectFailures()).isZero();
        } finally {
            for (Socket c : fillers) {
                c.close();
            }
        }
    }

    /** {@code timeouts.idle}: nothing moves either way: both sides are closed; traffic keeps a connection open. */
    @Test
    void closesBothSidesOfAnIdleConnection() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough(backend.endpoint()).timeout("idle", "600ms"))) {
            try (Socket s = gw.connect()) {
                s.getOutputStream().write(HELLO);
                readFully(s.getInputStream(), HELLO.length);
                for (int i = 0; i < 8; i++) { // 1.2 s of traffic every 150 ms: longer than the timeout, never idle
                    Thread.sleep(150);
                    s.getOutputStream().write('x');
                    assertThat(s.getInputStream().read()).isEqualTo('x');
                }
                long quiet = System.nanoTime();
                assertThat(s.getInputStream().read()).as("closed by the gateway").isEqualTo(-1);
                assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - quiet)).isBetween(500L, 5_000L);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> backend.connections().get(0).sawEof());
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("routed")).isEqualTo(1);
        }
    }

    /** One access log line per connection, with the fields the channel path fills. */
    @Test
    void logsEachConnectionOnceClosed() throws Exception {
        Path file = dir.resolve("access.json");
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough(backend.endpoint()).accessLog(file.toString()))) {
            echo(gw, "ping through the mesh");
            try (Socket s = gw.connect()) {
                s.getOutputStream().write(DirectGateway.hello("outbound_.8080_._.nothing.default.svc.cluster.local"));
                assertThat(s.getInputStream().read()).isEqualTo(-1);
            }
            try (Socket s = gw.connect()) {
                s.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes());
                assertThat(s.getInputStream().read()).isEqualTo(-1);
            }
            ObjectMapper json = new ObjectMapper();
            await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(file) && Files.readAllLines(file).size() >= 3);
            Map<String, JsonNode> byOutcome = Files.readAllLines(file).stream().map(l -> {
                try {
                    return json.readTree(l);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).collect(Collectors.toMap(j -> j.get("outcome").asText(), j -> j));
            assertThat(byOutcome).containsOnlyKeys("routed", "no_route", "bad_hello");
            JsonNode routed = byOutcome.get("routed");
            long payload = "ping through the mesh".length();
            assertThat(routed.get("listener").asText()).isEqualTo("eastwest");
            assertThat(routed.get("peer").asText()).startsWith("127.0.0.1:");
            assertThat(routed.get("sni").asText()).isEqualTo(TlsPeers.SNI);
            assertThat(routed.get("cluster").asText()).isEqualTo("static");
            assertThat(routed.get("endpoint").asText()).isEqualTo(backend.endpoint());
            assertThat(routed.get("bytesToUpstream").asLong()).isEqualTo(HELLO.length + payload);
            assertThat(routed.get("bytesToDownstream").asLong()).isEqualTo(HELLO.length + payload);
            assertThat(routed.get("durationMs").asDouble()).isPositive();
            JsonNode noRoute = byOutcome.get("no_route");
            assertThat(noRoute.get("route").asText()).isEqualTo("nothing.default.svc.cluster.local:8080");
            assertThat(noRoute.has("endpoint")).isFalse();
            assertThat(noRoute.has("bytesToUpstream")).isFalse();
            assertThat(noRoute.get("bytesToDownstream").asLong()).isZero();
            assertThat(byOutcome.get("bad_hello").has("sni")).isFalse();
        }
    }

    /** closeConnections(): every open direct connection (relaying, or mid-hello) closed when it returns; active 0. */
    @Test
    void closeConnectionsClosesEveryOpenConnection() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough(backend.endpoint()))) {
            List<Socket> open = new ArrayList<>();
            try {
                for (int i = 0; i < 5; i++) {
                    Socket s = gw.connect();
                    open.add(s);
                    s.getOutputStream().write(HELLO);
                    readFully(s.getInputStream(), HELLO.length);
                }
                Socket midHello = gw.connect();
                open.add(midHello);
                midHello.getOutputStream().write(Arrays.copyOf(HELLO, 10));
                await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 6);
                gw.listener.closeConnections();
                assertThat(gw.active()).as("right when closeConnections returns").isZero();
                for (Socket s : open) {
                    assertThat(s.getInputStream().read()).isEqualTo(-1);
                }
                await().atMost(Duration.ofSeconds(5)).until(() -> backend.connections().stream().allMatch(RawBackend.Received::sawEof));
                assertThat(gw.outcomes("routed")).isEqualTo(5);
                assertThat(gw.outcomes("bad_hello")).isEqualTo(1);
            } finally {
                for (Socket s : open) {
                    s.close();
                }
            }
        }
    }

    /** maxConnections: the connection above it is closed at once (overload); those below go on. */
    @Test
    void refusesConnectionsAboveMaxConnections() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough(backend.endpoint()).maxConnections("eastwest", 2))) {
            try (Socket a = gw.connect(); Socket b = gw.connect()) {
                for (Socket s : List.of(a, b)) {
                    s.getOutputStream().write(HELLO);
                    readFully(s.getInputStream(), HELLO.length);
                }
                // metered per send, while the connections are open (a moment after the client read them)
                await().atMost(Duration.ofSeconds(2)).until(() -> gw.bytes("upstream") == 2 * HELLO.length
                        && gw.bytes("downstream") == 2 * HELLO.length);
                try (Socket c = gw.connect()) {
                    assertThat(c.getInputStream().read()).isEqualTo(-1);
                }
                assertThat(gw.outcomes("overload")).isEqualTo(1);
                assertThat(gw.active()).isEqualTo(2);
                a.getOutputStream().write('x');
                assertThat(a.getInputStream().read()).isEqualTo('x');
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("routed")).isEqualTo(2);
        }
    }

    /** An egress listener routes outbound SNIs (local endpoints first) and refuses other names as no_route. */
    @Test
    void routesAsAnEgressListener() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.ECHO);
             DirectGateway gw = DirectGateway.startEgress(dir, RelayMode.COPY_EPOLL, backend.endpoint())) {
            echo(gw, "egress");
            try (Socket s = gw.connect()) {
                s.getOutputStream().write(DirectGateway.hello("plain.example.com"));
                assertThat(s.getInputStream().read()).isEqualTo(-1);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("routed")).isEqualTo(1);
            assertThat(gw.outcomes("no_route")).isEqualTo(1);
        }
    }

    /** The gateway shuts down with direct connections open: its loops close their registrations, hence the connections. */
    @Test
    void shuttingTheLoopsDownClosesOpenConnections() throws Exception {
        try (RawBackend backend = new RawBackend(RawBackend.ECHO)) {
            DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough(backend.endpoint()));
            try (Socket s = gw.connect()) {
                s.getOutputStream().write(HELLO);
                readFully(s.getInputStream(), HELLO.length);
                gw.close();
                assertThat(s.getInputStream().read()).isEqualTo(-1);
                await().atMost(Duration.ofSeconds(5)).until(() -> backend.connections().get(0).sawEof());
                assertThat(gw.active()).isZero();
            } finally {
                gw.close();
            }
        }
    }

    /** An IPv6 endpoint ({@code [::1]:port}); skipped where the machine has no ::1. */
    @Test
    void relaysToAnIpv6Endpoint() throws Exception {
        ServerSocket probe;
        try {
            probe = new ServerSocket(0, 50, InetAddress.getByName("::1"));
        } catch (Exception e) {
            Assumptions.abort("no ::1 here: " + e);
            return;
        }
        int port = probe.getLocalPort();
        probe.close();
        RawBackend.Behaviour echo = RawBackend.ECHO;
        try (ServerSocket v6 = new ServerSocket()) {
            v6.bind(new InetSocketAddress(InetAddress.getByName("::1"), port));
            Thread t = new Thread(() -> {
                try (Socket s = v6.accept()) {
                    echo.serve(s, new RawBackend.Received());
                } catch (Exception ignored) {
                    // the test fails on what it receives
                }
            });
            t.setDaemon(true);
            t.start();
            try (DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough("[::1]:" + port))) {
                echo(gw, "over IPv6");
                assertThat(gw.outcomes("routed")).isEqualTo(1);
            }
        }
    }

    /**
     * A hello that is there when the connection is accepted is read at the accept, and sent at once
     * to an endpoint on this host (a loopback connect completes inside {@code connect()}): it reaches
     * the endpoint before either socket had an event, and the upstream socket, watched for reads
     * only, reports none while nothing comes back. The loop is held while the client connects and
     * sends, so the hello is there; whether the kernel finished the connect inside the call depends on
     * its softirq work being done at once, so one connection of three is asked for.
     */
    @Test
    void aHelloThatCameWithTheConnectionGoesOnWithoutAnEvent() throws Exception {
        try (ServerSocket backend = new ServerSocket(0, 8, InetAddress.getLoopbackAddress());
             DirectGateway gw = DirectGateway.start(dir, RelayMode.COPY_EPOLL.passthrough("127.0.0.1:" + backend.getLocalPort()))) {
            backend.setSoTimeout(10_000);
            io.netty.channel.EventLoop acceptor = gw.serverChannel().eventLoop();
            List<Socket> clients = new ArrayList<>();
            List<Socket> upstreams = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
                    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
                    acceptor.execute(() -> {
                        held.countDown();
                        try {
                            release.await(10, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    });
                    assertThat(held.await(5, TimeUnit.SECONDS)).isTrue();
                    Socket s = gw.connect();
                    clients.add(s);
                    s.getOutputStream().write(HELLO);
                    Thread.sleep(50); // the hello is in the accepted socket's queue before the loop goes on
                    release.countDown();
                    Socket up = backend.accept();
                    upstreams.add(up);
                    up.setSoTimeout(10_000);
                    byte[] got = new byte[HELLO.length];
                    new java.io.DataInputStream(up.getInputStream()).readFully(got);
                    assertThat(Arrays.equals(got, HELLO)).as("the endpoint got the hello").isTrue();
                }
                Thread.sleep(100); // an EPOLLOUT for a connect that completed would come now
                Map<DirectConnection, Integer> events = gw.openConnectionEvents();
                assertThat(events).hasSize(3);
                assertThat(events.values()).as("events per connection").contains(0);
            } finally {
                for (Socket s : clients) {
                    s.close();
                }
                for (Socket s : upstreams) {
                    s.close();
                }
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> gw.active() == 0);
            assertThat(gw.outcomes("routed")).isEqualTo(3);
        }
    }

    /** Fills the accept queue of {@code full} (backlog 1) with {@code fillers}: SYNs to it are dropped from then on. */
    private static void fillAcceptQueue(ServerSocket full, List<Socket> fillers) throws Exception {
        boolean queueFull = false;
        for (int i = 0; i < 8 && !queueFull; i++) {
            Socket c = new Socket();
            fillers.add(c);
            try {
                c.connect(full.getLocalSocketAddress(), 200);
            } catch (SocketTimeoutException e) {
                queueFull = true;
            }
        }
        assertThat(queueFull).as("the endpoint's accept queue is full").isTrue();
    }

    /** Hello, payload, FIN; expects them echoed, then EOF. */
    private static void echo(DirectGateway gw, String payload) throws Exception {
        try (Socket s = gw.connect()) {
            s.getOutputStream().write(HELLO);
            s.getOutputStream().write(payload.getBytes());
            s.shutdownOutput();
            assertThat(s.getInputStream().readAllBytes()).isEqualTo(DirectPassthroughTest.concat(HELLO, payload.getBytes()));
        }
    }

    private static void readFully(InputStream in, int n) throws Exception {
        new java.io.DataInputStream(in).readFully(new byte[n]);
    }
}
