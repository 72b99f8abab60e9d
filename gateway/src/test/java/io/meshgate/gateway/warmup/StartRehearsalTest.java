package io.meshgate.gateway.warmup;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.config.HostPort;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.listener.PassthroughPipeline;
import io.meshgate.gateway.relay.CopyRelay;
import io.meshgate.gateway.testing.TestListeners;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.routing.Router;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.EventLoopGroup;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class StartRehearsalTest {

    /**
     * Rehearses again and again until closed: binds the listener, makes one connection to it (a
     * bad_hello), closes it, probes the admin address with {@code GET /readyz}; nothing stays bound.
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void bindsAcceptsClosesAndProbesUntilClosedLeavingNothingBound() throws Exception {
        Transport transport = Transport.epoll();
        EventLoopGroup group = transport.newGroup(1, "rehearsal-test");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        Listener listener = new Listener(TestListeners.context("rehearsal", registry, new Router(List.of()), transport,
                new CopyRelay(), 1, Duration.ofSeconds(5)), new HostPort("127.0.0.1", 0), transport, PassthroughPipeline.passthrough());
        AtomicInteger probes = new AtomicInteger();
        try (ServerSocket admin = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread server = new Thread(() -> answerProbes(admin, probes), "fake-admin");
            server.setDaemon(true);
            server.start();
            StartRehearsal rehearsal = StartRehearsal.start(listener, group,
                    new InetSocketAddress(InetAddress.getLoopbackAddress(), admin.getLocalPort()));
            try {
                Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> rehearsal.rehearsals() >= 3);
            } finally {
                rehearsal.close();
            }
            assertThat(probes.get()).isGreaterThanOrEqualTo(3);
            assertThat(listener.bound()).isFalse();
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> badHellos(registry) >= 3);
            Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> listener.openConnections() == 0);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    private static double badHellos(SimpleMeterRegistry registry) {
        Counter c = registry.find("meshgate.downstream.connections").tags("listener", "rehearsal", "outcome", "bad_hello").counter();
        return c == null ? 0 : c.count();
    }

    /** A stand-in admin server: reads each request's head, answers 503 and closes, as /readyz does before the start ends. */
    private static void answerProbes(ServerSocket admin, AtomicInteger probes) {
        while (!admin.isClosed()) {
            try (Socket s = admin.accept()) {
                InputStream in = s.getInputStream();
                StringBuilder head = new StringBuilder();
                int b;
                while (!head.toString().endsWith("\r\n\r\n") && (b = in.read()) >= 0) {
                    head.append((char) b);
                }
                if (head.toString().startsWith("GET /readyz HTTP/1.1\r\n")) {
                    probes.incrementAndGet();
                }
                s.getOutputStream().write("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
            } catch (IOException e) {
                return; // closed
            }
        }
    }
}
