package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.RouteError;
import io.meshgate.routing.RouteTable;
import io.meshgate.routing.ServiceHost;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What one Kubernetes cluster's Services and EndpointSlices route to, as an immutable snapshot
 * the data path reads without locks. A change replaces only the Services it touches and shares
 * the rest with the previous snapshot ({@link PersistentMap}), so publishing stays cheap at
 * 10,000 Services.
 */
public final class ClusterState implements RouteTable {

    private final String clusterDomain;
    private final PersistentMap<ServiceHost, ServiceRoutes> services;
    private final int endpointCount;

    private ClusterState(String clusterDomain, PersistentMap<ServiceHost, ServiceRoutes> services, int endpointCount) {
        this.clusterDomain = clusterDomain;
        this.services = services;
        this.endpointCount = endpointCount;
    }

    /** A cluster with no Services yet. */
    public static ClusterState empty(String clusterDomain) {
        return new ClusterState(clusterDomain, PersistentMap.empty(), 0);
    }

    /** The state of a whole cluster at once: each Service with the slices labelled for it. */
    public static ClusterState of(String clusterDomain, Collection<Service> services, Collection<EndpointSlice> slices) {
        return of(clusterDomain, services, slices, s -> true);
    }

    /**
     * As {@link #of(String, Collection, Collection)} with only the Services {@code exported}
     * accepts ({@link ExportPolicy}): the others are left out, so they answer {@code no-such-service}.
     */
    public static ClusterState of(String clusterDomain, Collection<Service> services, Collection<EndpointSlice> slices,
                                  java.util.function.Predicate<Service> exported) {
        Map<ServiceHost, List<EndpointSlice>> byOwner = new HashMap<>();
        for (EndpointSlice slice : slices) {
            ownerOf(slice).ifPresent(owner -> byOwner.computeIfAbsent(owner, k -> new ArrayList<>()).add(slice));
        }
        Map<ServiceHost, ServiceRoutes> routes = new HashMap<>();
        for (Service s : services) {
            if (!exported.test(s)) {
                continue;
            }
            ServiceHost key = keyOf(s);
            routes.put(key, ServiceResolver.routes(s, byOwner.getOrDefault(key, List.of())));
        }
        return empty(clusterDomain).with(routes, List.of());
    }

    /** The Service an EndpointSlice says it belongs to (its label, its namespace), if any. */
    public static Optional<ServiceHost> ownerOf(EndpointSlice slice) {
        Map<String, String> labels = slice.getMetadata().getLabels();
        String service = labels == null ? null : labels.get(ServiceResolver.SERVICE_NAME_LABEL);
        String namespace = slice.getMetadata().getNamespace();
        return service == null || service.isEmpty() || namespace == null
                ? Optional.empty() : Optional.of(new ServiceHost(service, namespace));
    }

    public static ServiceHost keyOf(Service service) {
        return new ServiceHost(service.getMetadata().getName(), service.getMetadata().getNamespace());
    }

    /** This state with the routes of some Services replaced and others gone. */
    public ClusterState with(Map<ServiceHost, ServiceRoutes> changed, Collection<ServiceHost> removed) {
        int delta = 0;
        for (ServiceHost key : removed) {
            ServiceRoutes old = services.get(key);
            delta -= old == null || changed.containsKey(key) ? 0 : old.endpointCount();
        }
        for (Map.Entry<ServiceHost, ServiceRoutes> e : changed.entrySet()) {
            ServiceRoutes old = services.get(e.getKey());
            delta += e.getValue().endpointCount() - (old == null ? 0 : old.endpointCount());
        }
        List<ServiceHost> removals = removed.stream().filter(k -> !changed.containsKey(k)).toList();
        return new ClusterState(clusterDomain, services.with(changed, removals), endpointCount + delta);
    }

    @Override
    public Resolution resolve(String host, int port) {
        Optional<ServiceHost> key = ServiceHost.parse(host, clusterDomain);
        ServiceRoutes routes = key.isPresent() ? services.get(key.get()) : null;
        return routes == null ? Resolution.refused(RouteError.NO_SUCH_SERVICE) : routes.resolve(port);
    }

    /** Every TCP Service port, sorted by host then port, with its routable endpoints (none when refused). */
    @Override
    public List<RouteEntry> entries() {
        List<RouteEntry> out = new ArrayList<>();
        services.forEach((key, routes) -> routes.addEntries(key.host(clusterDomain), out));
        out.sort(Comparator.comparing(RouteEntry::host).thenComparingInt(RouteEntry::port));
        return List.copyOf(out);
    }

    /** The routes of one Service, or null when the cluster has no such Service. */
    public ServiceRoutes service(ServiceHost key) {
        return services.get(key);
    }

    public String clusterDomain() {
        return clusterDomain;
    }

    /** How many Services the cluster has (every type). */
    public int serviceCount() {
        return services.size();
    }

    /** Routable endpoints summed over every Service port. */
    public int endpointCount() {
        return endpointCount;
    }
}
