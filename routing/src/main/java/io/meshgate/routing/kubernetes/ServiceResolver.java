package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.EndpointSet;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.RouteError;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The resolution rule, as a pure function of one Service and the EndpointSlices that may belong
 * to it: which {@code ip:port}s each TCP Service port may send traffic to right now. No I/O, no
 * Pod or Node lookups, never the legacy {@code Endpoints} API; written down in docs/discovery.md.
 */
public final class ServiceResolver {

    /** The label that ties an EndpointSlice to its Service (by name, in the same namespace). */
    public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

    private static final String TCP = "TCP";

    private ServiceResolver() {}

    /**
     * Resolves every TCP port of {@code service}. Slices that do not carry the Service's name in
     * {@link #SERVICE_NAME_LABEL} in its namespace are ignored, so callers may pass extra ones.
     */
    public static ServiceRoutes routes(Service service, Collection<EndpointSlice> slices) {
        String namespace = service.getMetadata().getNamespace();
        String name = service.getMetadata().getName();
        List<EndpointSlice> own = new ArrayList<>(slices.size());
        for (EndpointSlice slice : slices) {
            if (belongsTo(slice, namespace, name) && isIpFamily(slice.getAddressType())) {
                own.add(slice);
            }
        }
        List<ServicePort> tcpPorts = new ArrayList<>();
        if (service.getSpec() != null && service.getSpec().getPorts() != null) {
            for (ServicePort p : service.getSpec().getPorts()) {
                boolean duplicate = tcpPorts.stream().anyMatch(q -> Objects.equals(q.getPort(), p.getPort()));
                if (p.getPort() != null && isTcp(p.getProtocol()) && !duplicate) {
                    tcpPorts.add(p);
                }
            }
        }
        int[] numbers = new int[tcpPorts.size()];
        AppProtocol[] protocols = new AppProtocol[tcpPorts.size()];
        Resolution[] resolutions = new Resolution[tcpPorts.size()];
        for (int i = 0; i < numbers.length; i++) {
            ServicePort p = tcpPorts.get(i);
            numbers[i] = p.getPort();
            protocols[i] = AppProtocol.fromKubernetes(p.getAppProtocol(), p.getName());
            resolutions[i] = resolvePort(nameOf(p.getName()), protocols[i], own);
        }
        return new ServiceRoutes(isExternalName(service), numbers, protocols, resolutions);
    }

    /**
     * Ready endpoints of the port across all slices; if there are none, the serving-and-terminating
     * ones (KEP-1669, as kube-proxy does), decided over all slices together, not slice by slice.
     */
    private static Resolution resolvePort(String portName, AppProtocol protocol, List<EndpointSlice> slices) {
        Set<Endpoint> ready = new HashSet<>();
        Set<Endpoint> terminating = new HashSet<>();
        for (EndpointSlice slice : slices) {
            Integer slicePort = slicePort(slice, portName);
            if (slicePort == null || slice.getEndpoints() == null) {
                continue;
            }
            for (io.fabric8.kubernetes.api.model.discovery.v1.Endpoint e : slice.getEndpoints()) {
                Endpoint endpoint = firstAddress(e, slicePort);
                if (endpoint == null) {
                    continue;
                }
                EndpointConditions c = e.getConditions();
                boolean isReady = c == null || c.getReady() == null || c.getReady();
                boolean isServing = c == null || c.getServing() == null || c.getServing();
                boolean isTerminating = c != null && Boolean.TRUE.equals(c.getTerminating());
                if (isReady) {
                    ready.add(endpoint);
                } else if (isServing && isTerminating) {
                    terminating.add(endpoint);
                }
            }
        }
        if (!ready.isEmpty()) {
            return new Resolution.Routed(new EndpointSet(List.copyOf(ready), protocol));
        }
        if (!terminating.isEmpty()) {
            return new Resolution.Routed(new EndpointSet(List.copyOf(terminating), protocol));
        }
        return Resolution.refused(RouteError.NO_HEALTHY_ENDPOINTS);
    }

    /** The slice port named like the Service port (both may be empty) with protocol TCP, or null. */
    private static Integer slicePort(EndpointSlice slice, String portName) {
        if (slice.getPorts() == null) {
            return null;
        }
        for (EndpointPort p : slice.getPorts()) {
            if (nameOf(p.getName()).equals(portName) && isTcp(p.getProtocol()) && p.getPort() != null
                    && p.getPort() >= 1 && p.getPort() <= 65535) {
                return p.getPort();
            }
        }
        return null;
    }

    /** The endpoint's first address only (as kube-proxy); null when it has none or it is not an IP. */
    private static Endpoint firstAddress(io.fabric8.kubernetes.api.model.discovery.v1.Endpoint e, int port) {
        if (e.getAddresses() == null || e.getAddresses().isEmpty() || e.getAddresses().get(0) == null) {
            return null;
        }
        try {
            return Endpoint.of(e.getAddresses().get(0), port);
        } catch (IllegalArgumentException notAnIp) {
            return null; // the API validates addresses; a bad one must not take the Service down
        }
    }

    static boolean belongsTo(EndpointSlice slice, String namespace, String serviceName) {
        Map<String, String> labels = slice.getMetadata().getLabels();
        return labels != null && serviceName.equals(labels.get(SERVICE_NAME_LABEL))
                && Objects.equals(namespace, slice.getMetadata().getNamespace());
    }

    private static boolean isIpFamily(String addressType) {
        return "IPv4".equals(addressType) || "IPv6".equals(addressType);
    }

    private static boolean isTcp(String protocol) {
        return protocol == null || TCP.equals(protocol);
    }

    private static boolean isExternalName(Service service) {
        return service.getSpec() != null && "ExternalName".equals(service.getSpec().getType());
    }

    private static String nameOf(String portName) {
        return portName == null ? "" : portName;
    }
}
