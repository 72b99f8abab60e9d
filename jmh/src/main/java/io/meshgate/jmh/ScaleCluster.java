package io.meshgate.jmh;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.meshgate.routing.kubernetes.ServiceResolver;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A large synthetic cluster for the discovery benchmarks: {@code services} Services in 100
 * namespaces, each with one named TCP port and one EndpointSlice of {@code endpointsPerService}
 * ready pods (10,000 x 5 = the 50,000 endpoints the scale goal names).
 */
final class ScaleCluster {

    static final int NAMESPACES = 100;

    final List<Service> services = new ArrayList<>();
    final List<EndpointSlice> slices = new ArrayList<>();

    ScaleCluster(int services, int endpointsPerService) {
        for (int i = 0; i < services; i++) {
            this.services.add(service(i));
            this.slices.add(slice(i, endpointsPerService, 0));
        }
    }

    static String namespace(int i) {
        return "ns-" + (i % NAMESPACES);
    }

    static String name(int i) {
        return "svc-" + i;
    }

    static String host(int i) {
        return name(i) + "." + namespace(i) + ".svc.cluster.local";
    }

    static Service service(int i) {
        return new ServiceBuilder()
                .withNewMetadata().withNamespace(namespace(i)).withName(name(i)).endMetadata()
                .withNewSpec().withType("ClusterIP").withSelector(Map.of("app", name(i)))
                .addNewPort().withName("http").withPort(80).withProtocol("TCP").withNewTargetPort(8080).endPort()
                .endSpec().build();
    }

    /** Service {@code i}'s slice; {@code generation} shifts the pod IPs, as a rollout would. */
    static EndpointSlice slice(int i, int endpoints, int generation) {
        EndpointSliceBuilder b = new EndpointSliceBuilder()
                .withNewMetadata().withNamespace(namespace(i)).withName(name(i) + "-abcde")
                .withLabels(Map.of(ServiceResolver.SERVICE_NAME_LABEL, name(i))).endMetadata()
                .withAddressType("IPv4")
                .addNewPort().withName("http").withPort(8080).withProtocol("TCP").endPort();
        for (int e = 0; e < endpoints; e++) {
            int n = i * endpoints + e + generation * 7;
            b.addToEndpoints(new EndpointBuilder()
                    .withAddresses("10." + ((n >> 16) & 255) + "." + ((n >> 8) & 255) + "." + (n & 255))
                    .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
                    .withNodeName("node-" + (n % 50)).withZone("zone-" + (n % 3)).build());
        }
        return b.build();
    }
}
