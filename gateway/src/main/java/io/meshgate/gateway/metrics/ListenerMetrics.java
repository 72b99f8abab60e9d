package io.meshgate.gateway.metrics;

import io.meshgate.gateway.outcome.Outcome;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Every meter of one listener, registered once at start so the data path only increments
 * (no registry lookups per connection).
 */
public final class ListenerMetrics {

    private final Map<Outcome, Counter> outcomes = new EnumMap<>(Outcome.class);
    private final AtomicInteger active = new AtomicInteger();
    private final ByteCounter bytesToUpstream;
    private final ByteCounter bytesToDownstream;
    private final ByteCounter splicedToUpstream;
    private final ByteCounter splicedToDownstream;
    private final Timer upstreamConnect;
    private final Counter upstreamConnectFailures;
    private final Counter acceptFailures;
    private final MeterRegistry registry;
    private final String listener;
    private final java.util.concurrent.ConcurrentHashMap<String, Counter> byCluster = new java.util.concurrent.ConcurrentHashMap<>();
    private final RefusalLog routeRefusals = new RefusalLog(RefusalLog.DEFAULT_PER_SECOND);

    public ListenerMetrics(MeterRegistry registry, String listener) {
        this.registry = registry;
        this.listener = listener;
        for (Outcome o : Outcome.values()) {
            outcomes.put(o, Counter.builder("meshgate.downstream.connections")
                    .description("Accepted connections by their outcome, counted once when known")
                    .tags("listener", listener, "outcome", o.label())
                    .register(registry));
        }
        Gauge.builder("meshgate.downstream.connections.active", active, AtomicInteger::get)
                .description("Downstream connections open now")
                .tag("listener", listener)
                .register(registry);
        bytesToUpstream = relayCounter("meshgate.relay.bytes", "Bytes relayed, by where they went", "upstream");
        bytesToDownstream = relayCounter("meshgate.relay.bytes", "Bytes relayed, by where they went", "downstream");
        String spliced = "Of the bytes relayed, those the kernel moved (splice), by where they went";
        splicedToUpstream = relayCounter("meshgate.relay.spliced.bytes", spliced, "upstream");
        splicedToDownstream = relayCounter("meshgate.relay.spliced.bytes", spliced, "downstream");
        upstreamConnect = Timer.builder("meshgate.upstream.connect")
                .description("Time to establish a TCP connection to an endpoint")
                .tag("listener", listener)
                .serviceLevelObjectives(Duration.ofNanos(250_000), Duration.ofNanos(500_000), Duration.ofMillis(1),
                        Duration.ofMillis(2), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
                        Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
                        Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5))
                .register(registry);
        upstreamConnectFailures = Counter.builder("meshgate.upstream.connect.failures")
                .description("Failed attempts to connect to an endpoint (each try counts)")
                .tag("listener", listener).register(registry);
        acceptFailures = Counter.builder("meshgate.accept.failures")
                .description("Accepts that failed (e.g. the descriptor limit reached); accepting pauses for a second after each")
                .tag("listener", listener).register(registry);
    }

    public void outcome(Outcome outcome) {
        outcomes.get(outcome).increment();
    }

    /** The rate-limited INFO log of connections refused for their SNI ({@code no_route}). */
    public RefusalLog routeRefusals() {
        return routeRefusals;
    }

    public AtomicInteger active() {
        return active;
    }

    private ByteCounter relayCounter(String name, String description, String direction) {
        return ByteCounter.register(registry, name, description, Tags.of("listener", listener, "direction", direction));
    }

    public ByteCounter splicedToUpstream() {
        return splicedToUpstream;
    }

    public ByteCounter splicedToDownstream() {
        return splicedToDownstream;
    }

    public ByteCounter bytesToUpstream() {
        return bytesToUpstream;
    }

    public ByteCounter bytesToDownstream() {
        return bytesToDownstream;
    }

    public void upstreamConnected(long nanos) {
        upstreamConnect.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
    }

    /** An upstream connection was established to {@code cluster} (the route source, or a remote cluster's gateway). */
    public void upstreamConnection(String cluster) {
        Counter counter = byCluster.get(cluster); // the registered counter: no lambda built per connection
        if (counter == null) {
            counter = byCluster.computeIfAbsent(cluster, c -> Counter.builder("meshgate.upstream.connections")
                    .description("Upstream connections established, by destination cluster")
                    .tags("listener", listener, "cluster", c).register(registry));
        }
        counter.increment();
    }

    public void upstreamConnectFailed() {
        upstreamConnectFailures.increment();
    }

    /** An accept failed (the listener pauses accepting). */
    public void acceptFailed() {
        acceptFailures.increment();
    }
}
