package io.meshgate.routing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Endpoints fixed in the config ({@code discovery.static}): VMs, tests, benchmarks. An immutable
 * table that is its own source, since it never changes.
 */
public final class StaticRoutes implements RouteSource, RouteTable {

    /** One configured entry. */
    public record StaticService(String host, int port, List<Endpoint> endpoints, AppProtocol protocol) {}

    /**
     * HashMaps, never handed out, instead of {@code Map.copyOf}: the JDK's compact immutable maps
     * are of a different class by size (one entry, several), and a lookup compiled for the tables
     * the JIT saw first (the warm-up's) is thrown away at the first lookup in a table of the other
     * size.
     */
    private final Map<String, Map<Integer, EndpointSet>> byHost;
    private final List<RouteEntry> entries;

    public StaticRoutes(List<StaticService> services) {
        Map<String, Map<Integer, EndpointSet>> hosts = new HashMap<>();
        List<RouteEntry> list = new ArrayList<>();
        for (StaticService s : services) {
            String host = s.host().toLowerCase(Locale.ROOT);
            EndpointSet set = new EndpointSet(s.endpoints(), s.protocol());
            if (hosts.computeIfAbsent(host, h -> new HashMap<>()).putIfAbsent(s.port(), set) != null) {
                throw new IllegalArgumentException("duplicate static service " + host + ":" + s.port());
            }
            list.add(new RouteEntry(host, s.port(), s.protocol(), set.endpoints()));
        }
        this.byHost = hosts;
        this.entries = List.copyOf(list);
    }

    @Override
    public String name() {
        return "static";
    }

    @Override
    public RouteTable current() {
        return this;
    }

    @Override
    public Resolution resolve(String host, int port) {
        Map<Integer, EndpointSet> ports = byHost.get(host);
        if (ports == null) {
            return Resolution.refused(RouteError.NO_SUCH_SERVICE);
        }
        EndpointSet set = ports.get(port);
        return set == null ? Resolution.refused(RouteError.NO_SUCH_PORT) : new Resolution.Routed(set);
    }

    @Override
    public List<RouteEntry> entries() {
        return entries;
    }
}
