package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Services and EndpointSlices as the API server stores them, written the way the tests read. */
public final class KubernetesObjects {

    private KubernetesObjects() {}

    public static Service service(String namespace, String name, ServicePort... ports) {
        return new ServiceBuilder()
                .withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
                .withNewSpec().withType("ClusterIP").withSelector(Map.of("app", name)).withPorts(ports).endSpec()
                .build();
    }

    public static Service headless(String namespace, String name, ServicePort... ports) {
        Service s = service(namespace, name, ports);
        s.getSpec().setClusterIP("None");
        return s;
    }

    /** A Service without a selector: its slices are written by hand (or by another controller). */
    public static Service selectorless(String namespace, String name, ServicePort... ports) {
        Service s = service(namespace, name, ports);
        s.getSpec().setSelector(null);
        return s;
    }

    public static Service externalName(String namespace, String name, String target, ServicePort... ports) {
        return new ServiceBuilder()
                .withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
                .withNewSpec().withType("ExternalName").withExternalName(target).withPorts(ports).endSpec()
                .build();
    }

    /** A Service port; the target port is deliberately different, since routing must ignore it. */
    public static ServicePort port(String name, int port) {
        return new ServicePortBuilder().withName(name).withPort(port).withProtocol("TCP")
                .withNewTargetPort(port + 1000).build();
    }

    public static ServicePort port(String name, int port, String protocol) {
        return new ServicePortBuilder().withName(name).withPort(port).withProtocol(protocol)
                .withNewTargetPort(port + 1000).build();
    }

    public static ServicePort appPort(String name, int port, String appProtocol) {
        return new ServicePortBuilder().withName(name).withPort(port).withAppProtocol(appProtocol).build();
    }

    public static EndpointPort slicePort(String name, int port) {
        return new EndpointPortBuilder().withName(name).withPort(port).withProtocol("TCP").build();
    }

    public static EndpointPort slicePort(String name, int port, String protocol) {
        return new EndpointPortBuilder().withName(name).withPort(port).withProtocol(protocol).build();
    }

    public static EndpointSlice slice(String namespace, String sliceName, String service, List<EndpointPort> ports,
                               Endpoint... endpoints) {
        return slice(namespace, sliceName, service, "IPv4", ports, endpoints);
    }

    public static EndpointSlice slice(String namespace, String sliceName, String service, String addressType,
                               List<EndpointPort> ports, Endpoint... endpoints) {
        return new EndpointSliceBuilder()
                .withNewMetadata().withNamespace(namespace).withName(sliceName)
                .withLabels(service == null ? Map.of() : Map.of(ServiceResolver.SERVICE_NAME_LABEL, service))
                .endMetadata()
                .withAddressType(addressType)
                .withPorts(ports)
                .withEndpoints(Arrays.asList(endpoints))
                .build();
    }

    /** No conditions at all: ready and serving by the API's nil rules. */
    public static Endpoint endpoint(String... addresses) {
        return new EndpointBuilder().withAddresses(addresses).build();
    }

    public static Endpoint ready(String address) {
        return endpoint(address, true, true, false);
    }

    public static Endpoint notReady(String address) {
        return endpoint(address, false, false, false);
    }

    /** A terminating endpoint (ready is always false then), still serving or not. */
    public static Endpoint terminating(String address, boolean serving) {
        return endpoint(address, false, serving, true);
    }

    public static Endpoint endpoint(String address, Boolean ready, Boolean serving, Boolean terminating) {
        return new EndpointBuilder().withAddresses(address)
                .withNewConditions().withReady(ready).withServing(serving).withTerminating(terminating).endConditions()
                .build();
    }
}
