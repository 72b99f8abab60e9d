package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;

/** An API server tests write objects to: fabric8's mock or a real kube-apiserver. */
public interface ApiBackend extends AutoCloseable {

    /** Creates or replaces objects as an operator would with kubectl apply. */
    void apply(HasMetadata... objects);

    void delete(HasMetadata... objects);

    /** A new client the caller closes. */
    KubernetesClient newClient();
}
