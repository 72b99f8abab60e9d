package io.meshgate.gateway.testing;

import io.meshgate.gateway.Gateway;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.MeshgateConfig;
import io.meshgate.gateway.listener.Listener;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/** A gateway started in-process from YAML (ports 0), with accessors tests need. Close it. */
public final class RunningGateway implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final Gateway gateway;

    private RunningGateway(Gateway gateway) {
        this.gateway = gateway;
    }

    /** Starts a gateway from {@code config}, written to {@code dir/meshgate.yaml} and loaded as a user's file is. */
    public static RunningGateway start(Path dir, TestConfig config) throws Exception {
        return start(config.write(dir), config.warmsUp());
    }

    /** Starts a gateway; {@code yaml} is a complete meshgate.yaml (use port 0 everywhere). Prefer {@link TestConfig}. */
    public static RunningGateway start(Path dir, String yaml) throws Exception {
        Path file = dir.resolve("meshgate.yaml");
        Files.writeString(file, yaml);
        return start(file, yaml.contains("warmup:"));
    }

    private static RunningGateway start(Path file, boolean warmup) throws Exception {
        MeshgateConfig config = ConfigLoader.load(file);
        if (!warmup) {
            config = config.withoutWarmup(); // seconds per gateway, and most tests start several
        }
        Gateway g = new Gateway(config, file);
        try {
            g.start();
        } catch (Exception e) {
            g.close();
            throw e;
        }
        return new RunningGateway(g);
    }

    public Gateway gateway() {
        return gateway;
    }

    public InetSocketAddress address(String listener) {
        return gateway.listeners().stream().filter(l -> l.name().equals(listener)).findFirst()
                .map(Listener::localAddress).orElseThrow();
    }

    public InetSocketAddress address() {
        return gateway.listeners().get(0).localAddress();
    }

    /** {@code meshgate_downstream_connections_total{listener, outcome}}. */
    public double outcomes(String listener, String outcome) {
        Counter c = gateway.metrics().registry().find("meshgate.downstream.connections")
                .tags("listener", listener, "outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    /** {@code meshgate_downstream_connections_active{listener}}; -1 when absent. */
    public double active(String listener) {
        io.micrometer.core.instrument.Gauge g = gateway.metrics().registry().find("meshgate.downstream.connections.active")
                .tags("listener", listener).gauge();
        return g == null ? -1 : g.value();
    }

    /** Any counter by its Micrometer name and tags; 0 when absent. */
    public double counter(String name, String... tags) {
        Counter c = gateway.metrics().registry().find(name).tags(tags).counter();
        return c == null ? 0 : c.count();
    }

    /** {@code meshgate_tls_handshakes_total{listener, result}}. */
    public double handshakes(String listener, String result) {
        return counter("meshgate.tls.handshakes", "listener", listener, "result", result);
    }

    public double bytes(String listener, String direction) {
        return counter("meshgate.relay.bytes", listener, direction);
    }

    /** Of {@link #bytes}, those the kernel moved (splice). */
    public double splicedBytes(String listener, String direction) {
        return counter("meshgate.relay.spliced.bytes", listener, direction);
    }

    /** A relay byte counter: a function counter summed from the event loops' cells. */
    private double counter(String name, String listener, String direction) {
        FunctionCounter c = gateway.metrics().registry().find(name).tags("listener", listener, "direction", direction)
                .functionCounter();
        return c == null ? 0 : c.count();
    }

    /** GET on the admin server; returns status and body. */
    public HttpResponse<String> admin(String pathAndQuery) throws Exception {
        InetSocketAddress a = gateway.admin().localAddress();
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + pathAndQuery))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() {
        gateway.close();
    }
}
