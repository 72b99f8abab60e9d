package io.meshgate.routing;

import java.util.List;

/**
 * An immutable snapshot of what one source (static config, one Kubernetes cluster) knows about
 * services. Sources publish a new table on every change; readers never lock.
 */
public interface RouteTable {

    /** Where {@code host:port} goes according to this table (the subset is the router's business). */
    Resolution resolve(String host, int port);

    /** Every service port this table knows, with its routable endpoints (possibly none), for {@code /debug/routes}. */
    List<RouteEntry> entries();

    /** A table that knows nothing. */
    RouteTable EMPTY = new RouteTable() {
        @Override
        public Resolution resolve(String host, int port) {
            return Resolution.refused(RouteError.NO_SUCH_SERVICE);
        }

        @Override
        public List<RouteEntry> entries() {
            return List.of();
        }
    };

    /** One service port as a table knows it. */
    record RouteEntry(String host, int port, AppProtocol protocol, List<Endpoint> endpoints) {
        public RouteEntry {
            endpoints = List.copyOf(endpoints);
        }
    }
}
