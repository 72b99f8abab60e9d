package io.meshgate.routing.kubernetes.real;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.meshgate.routing.kubernetes.ApiBackend;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/** A real control plane as an {@link ApiBackend}: namespaces are created on first use, as a real API requires. */
public final class RealApiBackend implements ApiBackend {

    private final ControlPlane plane;
    private final Set<String> namespaces = ConcurrentHashMap.newKeySet();

    public RealApiBackend(ControlPlane plane) {
        this.plane = plane;
    }

    @Override
    public void apply(HasMetadata... objects) {
        KubernetesClient admin = plane.client();
        for (HasMetadata o : objects) {
            String ns = o.getMetadata().getNamespace();
            if (ns != null && namespaces.add(ns)) {
                admin.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
                        .createOr(NonDeletingOperation::update);
            }
            o.getMetadata().setResourceVersion(null);
            admin.resource(o).createOr(NonDeletingOperation::update);
        }
    }

    @Override
    public void delete(HasMetadata... objects) {
        for (HasMetadata o : objects) {
            plane.client().resource(o).delete();
        }
    }

    @Override
    public KubernetesClient newClient() {
        return new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(plane.kubeconfig().toFile())).build();
    }

    /** The plane belongs to the {@link RealCluster} extension, which stops it. */
    @Override
    public void close() {
    }
}
