package io.meshgate.gateway.listener;

import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.accesslog.AccessLog;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.meshgate.gateway.upstream.EndpointPicker;
import io.meshgate.routing.Router;
import java.time.Duration;

/**
 * What every connection of one listener shares: its name and metrics, the router, the endpoint
 * picker and dialer, the relay, the limits and timeouts from the config, and where closed
 * connections are reported ({@link AccessLog#OFF} unless {@code accessLog:} is set). What a mode
 * adds (terminate's TLS material and HTTP pool) belongs to that mode's pipeline. Immutable.
 */
public record ListenerContext(
        String name,
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
        EndpointDialer dialer,
        Router.EgressPolicy egressPolicy,
        AccessLog accessLog) {

    /** A listener without an access log (warm-up, tests). */
    public ListenerContext(String name, ListenerMetrics metrics, Router router, EndpointPicker picker,
                           Transport transport, Relay relay, int maxConnections, int clientHelloMaxBytes,
                           int connectAttempts, Duration clientHelloTimeout, Duration connectTimeout,
                           Duration idleTimeout, EndpointDialer dialer, Router.EgressPolicy egressPolicy) {
        this(name, metrics, router, picker, transport, relay, maxConnections, clientHelloMaxBytes, connectAttempts,
                clientHelloTimeout, connectTimeout, idleTimeout, dialer, egressPolicy, AccessLog.OFF);
    }
}
