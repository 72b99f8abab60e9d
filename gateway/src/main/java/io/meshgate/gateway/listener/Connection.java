package io.meshgate.gateway.listener;

import io.meshgate.gateway.accesslog.AccessLogEntry;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.TrafficMeter;
import io.meshgate.gateway.upstream.Route;
import io.meshgate.routing.Endpoint;
import io.netty.channel.Channel;
import io.netty.util.AttributeKey;

/**
 * One downstream connection's state as it moves through the stages: the routing name it asked
 * for, the endpoints it may use, its upstream once connected, and its outcome, which is counted
 * exactly once. Confined to the connection's event loop.
 */
public final class Connection {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(Connection.class);
    private static final AttributeKey<Connection> KEY = AttributeKey.valueOf("meshgate.connection");

    private final ListenerContext listener;
    private final Channel downstream;
    private Outcome outcome;
    private String serverName;
    private Route route;
    private Channel upstream;
    private Endpoint upstreamEndpoint;
    private String upstreamCluster;
    private Outcome closedOutcome;
    private String peerIdentity;
    private final long acceptedNanos = System.nanoTime();
    /** Read at accept: a closed channel may no longer know its peer. */
    private final java.net.SocketAddress peer;

    private Connection(ListenerContext listener, Channel downstream) {
        this.listener = listener;
        this.downstream = downstream;
        this.peer = downstream.remoteAddress();
    }

    /** Attaches the state to a freshly accepted channel; counts it active until it closes. */
    public static Connection accept(ListenerContext listener, Channel downstream) {
        Connection c = new Connection(listener, downstream);
        downstream.attr(KEY).set(c);
        listener.metrics().active().incrementAndGet();
        downstream.closeFuture().addListener(f -> c.closed());
        return c;
    }

    public static Connection of(Channel downstream) {
        return downstream.attr(KEY).get();
    }

    public ListenerContext listener() {
        return listener;
    }

    public Channel downstream() {
        return downstream;
    }

    public String serverName() {
        return serverName;
    }

    public void serverName(String sni) {
        this.serverName = sni;
    }

    /** What the route stage resolved; null until then. */
    public Route route() {
        return route;
    }

    public void route(Route route) {
        this.route = route;
    }

    public Channel upstream() {
        return upstream;
    }

    /** The upstream is connected: it is closed with the downstream and counted on its endpoint. */
    public void upstream(Channel channel, Endpoint endpoint, String cluster) {
        this.upstream = channel;
        this.upstreamEndpoint = endpoint;
        this.upstreamCluster = cluster;
        listener.upstreams().picker().connected(endpoint);
        channel.closeFuture().addListener(f -> listener.upstreams().picker().disconnected(endpoint));
    }

    public Endpoint upstreamEndpoint() {
        return upstreamEndpoint;
    }

    /** Terminate mode: the verified client's SPIFFE ID, for the access log. */
    public void peerIdentity(String spiffeId) {
        this.peerIdentity = spiffeId;
    }

    /** Records the outcome if none was recorded yet; later calls are ignored. */
    public void outcome(Outcome o) {
        if (outcome == null) {
            outcome = o;
            listener.metrics().outcome(o);
        }
    }

    public Outcome outcome() {
        return outcome;
    }

    /**
     * What the connection counts as if it closes before a stage records an outcome, for stages
     * where the default guess (by how far routing got) is wrong, e.g. mid-handshake = tls_error.
     */
    public void outcomeIfClosed(Outcome o) {
        this.closedOutcome = o;
    }

    /** Refuses the connection: records why and closes it without forwarding a byte. */
    public void refuse(Outcome o) {
        o.logRefusal(log, listener.name(), downstream.remoteAddress(), serverName);
        outcome(o);
        downstream.close();
    }

    private void closed() {
        listener.metrics().active().decrementAndGet();
        if (outcome == null) {
            // Closed before any stage decided: the peer went away mid-hello, or before an upstream answered.
            outcome(closedOutcome != null ? closedOutcome : serverName == null ? Outcome.BAD_HELLO : route == null ? Outcome.NO_ROUTE : Outcome.UPSTREAM_FAILED);
        }
        if (upstream != null) {
            upstream.close();
        }
        if (listener.accessLog().enabled()) {
            listener.accessLog().log(accessLogEntry());
        }
    }

    /** The connection as the access log reports it; called once, when it has closed. */
    private AccessLogEntry accessLogEntry() {
        // The cluster it went to; before an upstream connected, the local endpoints' source if any.
        String destination = upstreamEndpoint != null ? upstreamCluster : route == null ? null : route.source();
        return new AccessLogEntry(System.currentTimeMillis(), listener.name(), peer, serverName,
                destination, upstreamEndpoint, peerIdentity, TrafficMeter.writtenOn(upstream),
                Math.max(0, TrafficMeter.writtenOn(downstream)), System.nanoTime() - acceptedNanos, outcome.label());
    }
}
