package io.meshgate.gateway.direct;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.testing.RelayMode;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TestConfig;
import io.micrometer.core.instrument.Gauge;
import java.io.File;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A test gateway whose first listener's connections run on the direct path
 * ({@code runtime.directPassthrough}, on by default on epoll): started as any test gateway, and
 * checked to have taken the path.
 */
final class DirectGateway implements AutoCloseable {

    final RunningGateway gw;
    final Listener listener;

    private DirectGateway(RunningGateway gw) {
        this.gw = gw;
        this.listener = gw.gateway().listeners().get(0);
    }

    static DirectGateway start(Path dir, TestConfig config) throws Exception {
        RunningGateway gw = RunningGateway.start(dir, config);
        try {
            DirectGateway direct = new DirectGateway(gw);
            assertThat(direct.listener.direct()).as("direct passthrough installed").isTrue();
            return direct;
        } catch (Exception | Error e) {
            gw.close();
            throw e;
        }
    }

    /**
     * An egress listener {@code eastwest} ({@code discovery.egressPolicy} left at its default,
     * local endpoints first) routing {@link io.meshgate.gateway.testing.TlsPeers#HOST}:8080 to
     * {@code endpoints}, with {@code mode}'s runtime.
     */
    static DirectGateway startEgress(Path dir, RelayMode mode, String... endpoints) throws Exception {
        TestConfig config = TestConfig.gateway().listener("eastwest", "egress")
                .staticService(io.meshgate.gateway.testing.TlsPeers.HOST, 8080, null, endpoints);
        mode.runtime().forEach((key, value) -> config.set("runtime." + key, value));
        return start(dir, config);
    }

    /** A ClientHello as a real client sends it, for {@code sni} (the warm-up's synthetic hello). */
    static byte[] hello(String sni) {
        try {
            java.lang.reflect.Method m = Class.forName("io.meshgate.gateway.warmup.SyntheticHello")
                    .getDeclaredMethod("likeARealClient", String.class);
            m.setAccessible(true);
            return (byte[]) m.invoke(null, sni);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }


    /** The listener's server channel (the direct path takes its accept events). */
    io.netty.channel.Channel serverChannel() throws ReflectiveOperationException {
        java.lang.reflect.Field f = Listener.class.getDeclaredField("serverChannel");
        f.setAccessible(true);
        return (io.netty.channel.Channel) f.get(listener);
    }

    /**
     * The listener's open direct connections, each with the number of events it handled so far (read
     * on its loop).
     */
    java.util.Map<DirectConnection, Integer> openConnectionEvents() throws Exception {
        java.lang.reflect.Field directField = Listener.class.getDeclaredField("direct");
        directField.setAccessible(true);
        DirectPassthrough direct = (DirectPassthrough) directField.get(listener);
        java.lang.reflect.Field openField = DirectPassthrough.class.getDeclaredField("open");
        openField.setAccessible(true);
        java.lang.reflect.Field head = OpenConnections.class.getDeclaredField("head");
        head.setAccessible(true);
        java.util.Map<DirectConnection, Integer> events = new java.util.LinkedHashMap<>();
        for (Object o : ((java.util.Map<?, ?>) openField.get(direct)).values()) {
            OpenConnections connections = (OpenConnections) o;
            connections.loop.submit(() -> {
                for (DirectConnection c = (DirectConnection) head.get(connections); c != null; c = c.next) {
                    events.put(c, c.events);
                }
                return null;
            }).get(5, java.util.concurrent.TimeUnit.SECONDS);
        }
        return events;
    }

    InetSocketAddress address() {
        return gw.address();
    }

    Socket connect() throws Exception {
        Socket s = new Socket(address().getAddress(), address().getPort());
        s.setSoTimeout(10_000);
        return s;
    }

    double outcomes(String outcome) {
        return gw.outcomes("eastwest", outcome);
    }

    double active() {
        Gauge g = gw.gateway().metrics().registry().find("meshgate.downstream.connections.active").tag("listener", "eastwest").gauge();
        return g == null ? -1 : g.value();
    }

    double bytes(String direction) {
        return gw.bytes("eastwest", direction);
    }

    double spliced(String direction) {
        return gw.splicedBytes("eastwest", direction);
    }

    double connectFailures() {
        return gw.counter("meshgate.upstream.connect.failures", "listener", "eastwest");
    }

    static int fds() {
        return Objects.requireNonNull(new File("/proc/self/fd").list()).length;
    }

    @Override
    public void close() {
        gw.close();
    }
}
