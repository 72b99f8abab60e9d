package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.RemoteCluster;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;
import java.util.Optional;

/**
 * Opens a remote cluster the same way whether it comes from the config or from a remote Secret:
 * its Services/EndpointSlices (same semantics as the local cluster) and its gateway address.
 */
public final class RemoteClusters {

    private RemoteClusters() {}

    /**
     * Starts watching a remote cluster with every Service exported (tests and tools). {@code
     * fixedGateway} wins over the address discovered from {@code gatewayService} ({@code namespace/name}).
     */
    public static RemoteCluster open(String name, Config kubeconfig, Optional<Endpoint> fixedGateway,
                                     String gatewayService, String clusterDomain, MeterRegistry registry) {
        return open(name, kubeconfig, fixedGateway, gatewayService, ExportPolicy.ALL, clusterDomain, registry);
    }

    /**
     * As above; only the Services {@code exports} allows in that cluster become destinations: a
     * remote Service that is not exported is never a reason to send a caller to that cluster.
     */
    public static RemoteCluster open(String name, Config kubeconfig, Optional<Endpoint> fixedGateway,
                                     String gatewayService, ExportPolicy exports, String clusterDomain,
                                     MeterRegistry registry) {
        return open(name, kubeconfig, fixedGateway, gatewayService, exports, clusterDomain, registry, ClusterAttachment.NONE);
    }

    /** As above, with {@code attachment} attached to the cluster's client for as long as the cluster is open. */
    public static RemoteCluster open(String name, Config kubeconfig, Optional<Endpoint> fixedGateway,
                                     String gatewayService, ExportPolicy exports, String clusterDomain,
                                     MeterRegistry registry, ClusterAttachment attachment) {
        return open(name, client(kubeconfig), fixedGateway, gatewayService, exports, clusterDomain, registry, attachment);
    }

    /**
     * A client for {@code kubeconfig}; building it reads the kubeconfig's certificates and keys, so a
     * broken one fails here ({@link IllegalArgumentException}), before anything is replaced.
     */
    public static KubernetesClient client(Config kubeconfig) {
        try {
            return new KubernetesClientBuilder().withConfig(kubeconfig).build();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot build a client from the kubeconfig: " + e.getMessage(), e);
        }
    }

    /** As above, on {@code client} (closed with the cluster). */
    public static RemoteCluster open(String name, KubernetesClient client, Optional<Endpoint> fixedGateway,
                                     String gatewayService, ExportPolicy exports, String clusterDomain,
                                     MeterRegistry registry, ClusterAttachment attachment) {
        KubernetesCluster routes = new KubernetesCluster(name, client, List.of(), exports, clusterDomain, registry).start();
        GatewayService gateway = new GatewayService(name, routes.client(), gatewayService).start();
        AutoCloseable attached = attachment.attach(name, client);
        return new RemoteCluster(name, routes, fixedGateway, gateway::address, () -> {
            attached.close();
            gateway.close();
            routes.close();
            client.close();
        });
    }

    /** A kubeconfig file's content as a client config; {@link IllegalArgumentException} names what is wrong. */
    public static Config kubeconfig(String content, String origin) {
        try {
            return Config.fromKubeconfig(content);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(origin + ": not a usable kubeconfig: " + e.getMessage(), e);
        }
    }
}
