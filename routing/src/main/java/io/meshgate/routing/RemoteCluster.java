package io.meshgate.routing;

import java.util.Optional;
import java.util.function.Supplier;

/**
 * Another cluster of the mesh: what its API server says about its services, and the address of
 * its east-west gateway, where an egress listener sends callers when the local cluster has no
 * healthy endpoint. The fixed address from the config wins over the discovered one.
 */
public final class RemoteCluster implements RouteSource, AutoCloseable {

    private final String name;
    private final RouteSource routes;
    private final Optional<Endpoint> fixedGateway;
    private final Supplier<Optional<Endpoint>> discoveredGateway;
    private final AutoCloseable resources;

    public RemoteCluster(String name, RouteSource routes, Optional<Endpoint> fixedGateway,
                         Supplier<Optional<Endpoint>> discoveredGateway, AutoCloseable resources) {
        this.name = name;
        this.routes = routes;
        this.fixedGateway = fixedGateway;
        this.discoveredGateway = discoveredGateway;
        this.resources = resources;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public RouteTable current() {
        return routes.current();
    }

    @Override
    public boolean synced() {
        return routes.synced();
    }

    /** Never counts towards readiness: an unreachable remote must not take the local data path down. */
    @Override
    public boolean local() {
        return false;
    }

    /** Where that cluster's east-west gateway listens, when known. */
    public Optional<Endpoint> gateway() {
        return fixedGateway.isPresent() ? fixedGateway : discoveredGateway.get();
    }

    /** {@code fixed}, {@code discovered} or {@code unknown}, for {@code /debug/routes}. */
    public String gatewaySource() {
        return fixedGateway.isPresent() ? "fixed" : discoveredGateway.get().isPresent() ? "discovered" : "unknown";
    }

    @Override
    public void close() throws Exception {
        resources.close();
    }
}
