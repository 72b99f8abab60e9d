package io.meshgate.gateway.testing;

import io.meshgate.gateway.accesslog.AccessLog;
import io.meshgate.gateway.config.GatewaySpec.BalancingPolicy;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.meshgate.gateway.upstream.EndpointPicker;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.micrometer.core.instrument.MeterRegistry;
import java.time.Duration;
import java.util.List;

/** Listener contexts for tests that drive stages without a whole gateway (handler tests, warm-up). */
public final class TestListeners {

    private TestListeners() {}

    /** A router with one static TCP service {@code host:port} → {@code endpoints}. */
    public static Router staticRouter(String host, int port, AppProtocol protocol, Endpoint... endpoints) {
        return new Router(List.of(new StaticRoutes(List.of(
                new StaticRoutes.StaticService(host, port, List.of(endpoints), protocol)))));
    }

    /** A context with round-robin picking, {@code connectAttempts} attempts and generous timeouts but {@code helloTimeout}. */
    public static ListenerContext context(String name, MeterRegistry registry, Router router, Transport transport, Relay relay,
                                          int connectAttempts, Duration helloTimeout) {
        ListenerMetrics metrics = new ListenerMetrics(registry, name);
        EndpointPicker picker = new EndpointPicker(BalancingPolicy.ROUND_ROBIN);
        EndpointDialer dialer = new EndpointDialer(transport, picker, metrics, connectAttempts, Duration.ofSeconds(5));
        return new ListenerContext(name, metrics, router,
                new ListenerContext.Limits(1024, 64 * 1024, helloTimeout, Duration.ofMinutes(1)), dialer, relay, AccessLog.OFF);
    }
}
