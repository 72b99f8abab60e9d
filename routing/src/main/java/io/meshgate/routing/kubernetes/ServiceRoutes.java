package io.meshgate.routing.kubernetes;

import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.RouteError;
import io.meshgate.routing.RouteTable.RouteEntry;
import java.util.List;

/**
 * Where one Service's ports go, resolved once when the Service or one of its EndpointSlices
 * changes, so a lookup on the data path is a scan of a few ports. Immutable.
 */
public final class ServiceRoutes {

    private final boolean externalName;
    private final int[] ports;
    private final AppProtocol[] protocols;
    private final Resolution[] resolutions;
    private final int endpointCount;

    ServiceRoutes(boolean externalName, int[] ports, AppProtocol[] protocols, Resolution[] resolutions) {
        this.externalName = externalName;
        this.ports = ports;
        this.protocols = protocols;
        this.resolutions = resolutions;
        int count = 0;
        for (Resolution r : resolutions) {
            if (r instanceof Resolution.Routed routed) {
                count += routed.endpoints().size();
            }
        }
        this.endpointCount = count;
    }

    /** Where the Service port {@code port} goes: {@code external-name} first, then {@code no-such-port}. */
    public Resolution resolve(int port) {
        if (externalName) {
            return Resolution.refused(RouteError.EXTERNAL_NAME);
        }
        for (int i = 0; i < ports.length; i++) {
            if (ports[i] == port) {
                return resolutions[i];
            }
        }
        return Resolution.refused(RouteError.NO_SUCH_PORT);
    }

    /** Routable endpoints summed over the TCP ports (an endpoint behind two ports counts twice). */
    public int endpointCount() {
        return endpointCount;
    }

    void addEntries(String host, List<RouteEntry> out) {
        for (int i = 0; i < ports.length; i++) {
            List<io.meshgate.routing.Endpoint> endpoints = resolutions[i] instanceof Resolution.Routed routed
                    ? routed.endpoints().endpoints() : List.of();
            out.add(new RouteEntry(host, ports[i], protocols[i], endpoints));
        }
    }
}
