package io.meshgate.gateway.upstream;

import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.EndpointSet;
import io.meshgate.routing.Resolution;
import java.util.List;

/**
 * Where a connection may go, as the route stage resolved it once: the upstream candidates, each
 * with its cluster, and what the route's port speaks. Local endpoints are balanced by the
 * {@link EndpointPicker}; other clusters' east-west gateways (egress) are tried in the router's
 * order. {@link #pick} turns it into the {@link UpstreamTarget} the dialer and the HTTP pools
 * consume. Immutable.
 */
public final class Route {

    private final List<Endpoint> endpoints;
    private final AppProtocol protocol;
    /** The route source of local endpoints; null for gateways. */
    private final String source;
    /** Egress: the remote clusters, index by index with {@link #endpoints}; null for local endpoints. */
    private final List<Resolution.RemoteGateway> gateways;
    /** Whether the picker chooses where to start; else the candidates are tried in their order. */
    private final boolean balanced;

    private Route(List<Endpoint> endpoints, AppProtocol protocol, String source, List<Resolution.RemoteGateway> gateways,
                  boolean balanced) {
        this.endpoints = endpoints;
        this.protocol = protocol;
        this.source = source;
        this.gateways = gateways;
        this.balanced = balanced;
    }

    /** Local endpoints from {@code source} (a cluster or the static routes), balanced by the picker. */
    public static Route local(EndpointSet set, String source) {
        return new Route(set.endpoints(), set.protocol(), source, null, true);
    }

    /** Other clusters' east-west gateways, every one tried once in this order (the SNI goes on unchanged). */
    public static Route viaGateways(List<Resolution.RemoteGateway> gateways) {
        return new Route(gateways.stream().map(Resolution.RemoteGateway::gateway).toList(), AppProtocol.TCP, null, gateways,
                false);
    }

    /** Endpoints chosen elsewhere, tried in this order (e.g. the one endpoint an h2 stream picked). */
    public static Route ordered(List<Endpoint> endpoints) {
        return new Route(List.copyOf(endpoints), AppProtocol.TCP, "", null, false);
    }

    /** The route of a resolution, or null when it is not routable. */
    public static Route of(Resolution resolution) {
        if (resolution instanceof Resolution.Routed routed) {
            return local(routed.endpoints(), routed.source());
        }
        if (resolution instanceof Resolution.ViaGateways via) {
            return viaGateways(via.gateways());
        }
        return null;
    }

    /**
     * The candidates in the order to try them: the picker chooses where local endpoints start
     * (once per connection, HTTP request or h2 stream) and at most {@code connectAttempts} are
     * tried; gateways (and ordered endpoints) are all tried in their order.
     */
    public UpstreamTarget pick(EndpointPicker picker, int connectAttempts) {
        if (!balanced) {
            return new UpstreamTarget(this, 0, endpoints.size());
        }
        return new UpstreamTarget(this, picker.first(endpoints), Math.min(connectAttempts, endpoints.size()));
    }

    public AppProtocol protocol() {
        return protocol;
    }

    public int size() {
        return endpoints.size();
    }

    public Endpoint endpoint(int i) {
        return endpoints.get(i);
    }

    /** The cluster candidate {@code i} belongs to: its remote cluster for a gateway, else the route's source. */
    public String cluster(int i) {
        return gateways != null ? gateways.get(i).cluster() : source;
    }

    /** The local endpoints' source, or null for a route through other clusters' gateways. */
    public String source() {
        return source;
    }

    public List<Endpoint> endpoints() {
        return endpoints;
    }
}
