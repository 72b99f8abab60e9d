package io.meshgate.routing;

import java.util.List;
import java.util.TreeSet;

/**
 * The endpoints one service port may use right now: immutable, deduplicated, sorted by
 * {@link Endpoint#toString()} (Java {@code String} order, as {@code /debug/resolve} answers),
 * never empty, plus what the port speaks.
 */
public record EndpointSet(List<Endpoint> endpoints, AppProtocol protocol) {

    public EndpointSet {
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("an EndpointSet is never empty");
        }
        endpoints = List.copyOf(new TreeSet<>(endpoints));
    }

    public int size() {
        return endpoints.size();
    }

    public Endpoint get(int i) {
        return endpoints.get(i);
    }
}
