package io.meshgate.gateway.listener;

import io.meshgate.gateway.Transport;
import io.meshgate.gateway.config.MeshgateConfig;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.gateway.upstream.EndpointPicker;
import io.meshgate.routing.Router;
import java.time.Duration;

/**
 * What every connection of one listener shares: its name and metrics, the router, the endpoint
 * picker, the relay, and the limits and timeouts from the config. Immutable.
 */
public record ListenerContext(
        String name,
        MeshgateConfig.ListenerMode mode,
        ListenerMetrics metrics,
        Router router,
        EndpointPicker picker,
        Transport transport,
        Relay relay,
        int maxConnections,
        int clientHelloMaxBytes,
        int connectAttempts,
        Duration clientHelloTimeout,
        Duration connectTimeout,
        Duration idleTimeout,
        Router.EgressPolicy egressPolicy) {}
