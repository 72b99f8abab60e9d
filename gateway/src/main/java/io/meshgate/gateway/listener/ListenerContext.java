package io.meshgate.gateway.listener;

import io.meshgate.gateway.accesslog.AccessLog;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.meshgate.routing.Router;
import java.time.Duration;

/**
 * What every connection of one listener shares, whatever its mode: its name and metrics, the
 * router, the downstream limits, the upstream side (the {@link EndpointDialer} with its picker,
 * attempts and timeout), the relay, and where closed connections are reported
 * ({@link AccessLog#OFF} unless {@code accessLog:} is set). What a mode adds (egress policy,
 * terminate's TLS material and HTTP pools) belongs to that mode's pipeline. Immutable; built by
 * the gateway's assembly.
 */
public record ListenerContext(
        String name,
        ListenerMetrics metrics,
        Router router,
        Limits limits,
        EndpointDialer upstreams,
        Relay relay,
        AccessLog accessLog) {

    /** The downstream side's limits and timeouts ({@code listeners[].maxConnections}, {@code limits}, {@code timeouts}). */
    public record Limits(int maxConnections, int clientHelloMaxBytes, Duration clientHelloTimeout, Duration idleTimeout) {}
}
