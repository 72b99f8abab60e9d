package io.meshgate.gateway.upstream;

import io.meshgate.routing.Endpoint;
import java.util.List;

/**
 * A route's candidates in the order one connection, HTTP request or h2 stream tries them, each
 * with its cluster: what the picker chose once, consumed by {@link EndpointDialer} and the HTTP
 * pools alike so they never disagree on the endpoint. Allocation-free view over the {@link Route}.
 *
 * @param first    the candidate the picker chose
 * @param attempts how many candidates may be tried, from {@code first} on
 */
public record UpstreamTarget(Route route, int first, int attempts) {

    /** {@code order} as given, at most {@code attempts} of them (endpoints chosen elsewhere). */
    public static UpstreamTarget of(List<Endpoint> order, int attempts) {
        return new UpstreamTarget(Route.ordered(order), 0, Math.min(attempts, order.size()));
    }

    /** The candidate tried at attempt {@code n} (0: the preferred one). */
    public Endpoint endpoint(int n) {
        return route.endpoint(index(n));
    }

    /** The cluster of the candidate tried at attempt {@code n}. */
    public String cluster(int n) {
        return route.cluster(index(n));
    }

    /** The endpoint the picker chose. */
    public Endpoint preferred() {
        return endpoint(0);
    }

    private int index(int n) {
        return (first + n) % route.size();
    }
}
