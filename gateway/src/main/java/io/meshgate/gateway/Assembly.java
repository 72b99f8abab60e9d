package io.meshgate.gateway;

import io.meshgate.gateway.accesslog.AccessLog;
import io.meshgate.gateway.accesslog.AccessLogWriter;
import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.GatewaySpec;
import io.meshgate.gateway.config.GatewaySpec.ListenerMode;
import io.meshgate.gateway.config.GatewaySpec.ListenerSpec;
import io.meshgate.gateway.config.GatewaySpec.TlsSpec;
import io.meshgate.gateway.config.HostPort;
import io.meshgate.gateway.h2.Http2Limits;
import io.meshgate.gateway.listener.DownstreamPipeline;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.listener.PassthroughPipeline;
import io.meshgate.gateway.listener.DirectPath;
import io.meshgate.gateway.direct.DirectPassthrough;
import io.meshgate.gateway.metrics.GatewayMetrics;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.relay.AutoSpliceRelay;
import io.meshgate.gateway.relay.CopyRelay;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.gateway.relay.SpliceRelay;
import io.meshgate.gateway.terminate.TerminatePipeline;
import io.meshgate.gateway.terminate.Termination;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.meshgate.gateway.upstream.EndpointPicker;
import io.meshgate.routing.RouteSource;
import io.meshgate.routing.Router;
import io.meshgate.tls.TlsMaterialException;
import io.meshgate.tls.TlsMaterialSource;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The one place a validated {@link GatewaySpec} becomes runtime parts: the transport and relay,
 * the TLS material and access log, the shared endpoint picker, and per listener its immutable
 * {@link ListenerContext} and the pipeline assembler of its mode (passthrough, egress, terminate).
 * It owns nothing that must be closed: {@link Gateway} starts, drains and closes what it builds.
 * Warm-up listeners come from here too, so warm-up runs exactly the path real listeners run.
 */
final class Assembly {

    private final GatewaySpec spec;
    private final MeterRegistry registry;
    private final Transport transport;
    private final Relay relay;
    /** Shared by every listener: active-connection counts are per endpoint, across listeners. */
    private final EndpointPicker picker;

    Assembly(GatewaySpec spec, MeterRegistry registry) {
        this.spec = spec;
        this.registry = registry;
        this.transport = Transport.select(spec.runtime().transport(), spec.runtime().busyPoll(),
                spec.runtime().adaptivePoll());
        this.relay = relay(spec.runtime(), transport);
        this.picker = new EndpointPicker(spec.balancing().policy());
    }

    Transport transport() {
        return transport;
    }

    Relay relay() {
        return relay;
    }

    /** {@code tls:} loaded now, so a broken file stops the start naming it (exit 2); empty without {@code tls:}. */
    Optional<TlsMaterialSource> loadTls() {
        return spec.tls().map(this::loadTls);
    }

    private TlsMaterialSource loadTls(TlsSpec t) {
        try {
            return new TlsMaterialSource(t.files(), t.allowedTrustDomains(), t.allowedIdentities(), registry);
        } catch (TlsMaterialException e) {
            throw new ConfigException("tls: " + e.getMessage(), e);
        }
    }

    /** {@code accessLog:}: off unless configured; the file is opened now so a bad path stops the start (exit 2). */
    AccessLog openAccessLog() {
        if (spec.accessLog().isEmpty()) {
            return AccessLog.OFF;
        }
        GatewaySpec.AccessLogSpec c = spec.accessLog().get();
        try {
            return AccessLogWriter.open(c.file().orElse(null), c.queueSize(), registry);
        } catch (IOException e) {
            throw new ConfigException("accessLog.path: cannot open " + c.file().orElseThrow() + ": " + e.getMessage(), e);
        }
    }

    /** One listener of the spec, not bound yet. */
    Listener listener(ListenerSpec l, Router router, Optional<TlsMaterialSource> tls, AccessLog accessLog) {
        ListenerContext context = context(l.name(), l.maxConnections(), new ListenerMetrics(registry, l.name()),
                router, picker, accessLog);
        return new Listener(context, l.address(), transport, pipeline(l, tls));
    }

    /** {@code runtime.warmup}: set, and some listener runs the passthrough path (passthrough or egress). */
    boolean warmsUpPassthrough() {
        return spec.runtime().warmup().enabled()
                && spec.listeners().stream().anyMatch(l -> l.mode() != ListenerMode.TERMINATE);
    }

    /** {@code runtime.warmup}: set, and some listener terminates TLS. */
    boolean warmsUpTerminate() {
        return spec.runtime().warmup().enabled() && spec.tls().isPresent()
                && spec.listeners().stream().anyMatch(l -> l.mode() == ListenerMode.TERMINATE);
    }

    /**
     * A passthrough listener on 127.0.0.1 for warm-up: the real timeouts, dialer, relay and
     * transport, but its own picker and meters in a throwaway registry, so warm-up leaves no trace
     * (and no connection limit: warm-up bounds its connections in flight itself). The registry is
     * of the real kind: the JIT compiles each meter update for the meter classes it has seen.
     */
    Listener warmupListener(Router router) {
        ListenerContext context = context("warmup", Integer.MAX_VALUE, new ListenerMetrics(GatewayMetrics.throwaway(), "warmup"),
                router, new EndpointPicker(spec.balancing().policy()), AccessLog.OFF);
        return new Listener(context, new HostPort("127.0.0.1", 0), transport,
                PassthroughPipeline.passthrough().direct(directPath(null))); // the path the listeners will run
    }

    /**
     * A terminate listener on 127.0.0.1 for warm-up with the warm-up's own TLS material: the real
     * timeouts, limits, dialer and {@code tls.upstream}, throwaway meters and pools (as
     * {@link #warmupListener}).
     */
    Listener terminateWarmupListener(Router router, TlsMaterialSource material) {
        MeterRegistry throwaway = GatewayMetrics.throwaway();
        ListenerContext context = context("warmup", Integer.MAX_VALUE, new ListenerMetrics(throwaway, "warmup"),
                router, new EndpointPicker(spec.balancing().policy()), AccessLog.OFF);
        return new Listener(context, new HostPort("127.0.0.1", 0), transport, new TerminatePipeline(termination("warmup",
                material, throwaway)));
    }

    /**
     * The warm-up's routes behind the gateway's own sources: the warm-up's lookups then run
     * through the same route tables (and their classes) as real connections' lookups, missing in
     * the gateway's tables before the warm-up's own answers.
     */
    static Router behindGatewaySources(Router gateway, Router warmup) {
        List<RouteSource> sources = new ArrayList<>(gateway.sources());
        sources.addAll(warmup.sources());
        return new Router(sources);
    }

    private ListenerContext context(String name, int maxConnections, ListenerMetrics metrics, Router router,
                                    EndpointPicker picker, AccessLog accessLog) {
        EndpointDialer dialer = new EndpointDialer(transport, picker, metrics,
                spec.balancing().connectAttempts(), spec.timeouts().connect());
        ListenerContext.Limits limits = new ListenerContext.Limits(maxConnections, spec.limits().clientHelloMaxBytes(),
                spec.timeouts().clientHello(), spec.timeouts().idle());
        return new ListenerContext(name, metrics, router, limits, dialer, relay, accessLog);
    }

    /** The listener's pipeline: the one place a mode is chosen. */
    private DownstreamPipeline pipeline(ListenerSpec l, Optional<TlsMaterialSource> tls) {
        return switch (l.mode()) {
            case PASSTHROUGH -> PassthroughPipeline.passthrough().direct(directPath(null));
            case EGRESS -> PassthroughPipeline.egress(spec.discovery().egressPolicy()).direct(directPath(spec.discovery().egressPolicy()));
            case TERMINATE -> new TerminatePipeline(termination(l.name(), tls.orElseThrow(), registry));
        };
    }

    /**
     * {@code runtime.directPassthrough}: a passthrough ({@code egress} null) or egress listener's
     * connections run without Netty channels where the transport allows (epoll); null when off.
     */
    private DirectPath directPath(Router.EgressPolicy egress) {
        if (!spec.runtime().directPassthrough()) {
            return null;
        }
        return (server, context, group) -> DirectPassthrough.install(server, context, group, egress);
    }

    private Termination termination(String listener, TlsMaterialSource tls, MeterRegistry meters) {
        return new Termination(listener, tls, spec.tls().orElseThrow().upstream(), spec.timeouts().tlsHandshake(),
                spec.limits().upstreamPoolSize(), meters, Http2Limits.of(spec.http2(), spec.timeouts().drain()));
    }

    private static Relay relay(GatewaySpec.RuntimeSpec runtime, Transport transport) {
        if (!transport.canSplice()) {
            return new CopyRelay();
        }
        return switch (runtime.splice()) {
            case AUTO -> new AutoSpliceRelay(runtime.spliceThreshold());
            case ALWAYS -> new SpliceRelay();
            case OFF -> new CopyRelay();
        };
    }
}
