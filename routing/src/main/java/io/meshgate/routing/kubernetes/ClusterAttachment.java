package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClient;

/**
 * Something that lives exactly as long as a cluster is a member of the mesh and uses that
 * cluster's own API client, such as the watch on the roots it publishes (trust federation). It is
 * attached when the cluster is opened (config entry or remote Secret) and the returned handle is
 * closed when the cluster leaves or is replaced (a changed Secret opens the new cluster before the
 * old one is closed, so a handle must not assume it is the only one for its cluster name).
 */
@FunctionalInterface
public interface ClusterAttachment {

    /** Attaches nothing. */
    ClusterAttachment NONE = (cluster, client) -> () -> { };

    /** Called once per opened cluster; the handle is closed before the cluster's client. */
    AutoCloseable attach(String cluster, KubernetesClient client);
}
