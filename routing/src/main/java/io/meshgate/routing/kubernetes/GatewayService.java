package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.LoadBalancerIngress;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.meshgate.routing.Endpoint;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Learns a remote cluster's east-west gateway address from that cluster's meshgate
 * {@code LoadBalancer} Service: {@code status.loadBalancer.ingress[0]} (IP, or hostname resolved
 * here, off the data path) and the Service port named {@code tls-passthrough} (else 15443).
 */
public final class GatewayService implements AutoCloseable {

    public static final String PORT_NAME = "tls-passthrough";
    public static final int DEFAULT_PORT = 15443;

    private static final Logger log = LoggerFactory.getLogger(GatewayService.class);

    private final String cluster;
    private final String namespace;
    private final String name;
    private final KubernetesClient client;
    private volatile Optional<Endpoint> address = Optional.empty();
    private SharedIndexInformer<Service> informer;

    public GatewayService(String cluster, KubernetesClient client, String namespaceSlashName) {
        String[] parts = namespaceSlashName.split("/", 2);
        this.cluster = cluster;
        this.client = client;
        this.namespace = parts[0];
        this.name = parts[1];
    }

    /** Starts watching the Service (non-blocking). */
    public GatewayService start() {
        informer = client.services().inNamespace(namespace).withName(name).runnableInformer(0);
        informer.exceptionHandler((started, t) -> true); // keep retrying: the remote may come later
        informer.addEventHandler(new ResourceEventHandler<>() {
            @Override
            public void onAdd(Service s) {
                update(s);
            }

            @Override
            public void onUpdate(Service old, Service s) {
                update(s);
            }

            @Override
            public void onDelete(Service s, boolean unknown) {
                address = Optional.empty();
                log.warn("cluster {}: gateway Service {}/{} deleted; its gateway address is unknown", cluster, namespace, name);
            }
        });
        informer.start();
        return this;
    }

    /** The gateway address now, if the Service has a load-balancer ingress. */
    public Optional<Endpoint> address() {
        return address;
    }

    private void update(Service s) {
        Optional<Endpoint> next = addressOf(s);
        if (!next.equals(address)) {
            log.info("cluster {}: east-west gateway {} (from Service {}/{})", cluster,
                    next.map(Object::toString).orElse("unknown"), namespace, name);
        }
        address = next;
    }

    /** The gateway endpoint a LoadBalancer Service advertises; empty when it has no ingress yet. */
    static Optional<Endpoint> addressOf(Service s) {
        if (s.getStatus() == null || s.getStatus().getLoadBalancer() == null) {
            return Optional.empty();
        }
        List<LoadBalancerIngress> ingress = s.getStatus().getLoadBalancer().getIngress();
        if (ingress == null || ingress.isEmpty()) {
            return Optional.empty();
        }
        int port = DEFAULT_PORT;
        if (s.getSpec() != null && s.getSpec().getPorts() != null) {
            for (ServicePort p : s.getSpec().getPorts()) {
                if (PORT_NAME.equals(p.getName()) && p.getPort() != null) {
                    port = p.getPort();
                }
            }
        }
        LoadBalancerIngress first = ingress.get(0);
        try {
            if (first.getIp() != null && !first.getIp().isEmpty()) {
                return Optional.of(Endpoint.of(first.getIp(), port));
            }
            if (first.getHostname() != null && !first.getHostname().isEmpty()) {
                // Cloud load balancers often publish a hostname; resolve it here, never on the data path.
                return Optional.of(Endpoint.of(InetAddress.getByName(first.getHostname()).getHostAddress(), port));
            }
        } catch (UnknownHostException | IllegalArgumentException e) {
            log.warn("gateway Service {}/{}: cannot use ingress {}: {}", s.getMetadata().getNamespace(),
                    s.getMetadata().getName(), first, e.getMessage());
        }
        return Optional.empty();
    }

    @Override
    public void close() {
        if (informer != null) {
            informer.close();
        }
    }
}
