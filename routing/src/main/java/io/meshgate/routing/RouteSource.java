package io.meshgate.routing;

/**
 * Something that publishes route tables: the static config, or a Kubernetes cluster's informers.
 * {@link #current()} is one volatile read; the data path calls it per connection.
 */
public interface RouteSource {

    /** A label for {@code /debug/routes} and metrics, e.g. {@code static} or the cluster's name. */
    String name();

    /** The latest published snapshot. */
    RouteTable current();

    /** True once the source has a complete view (a Kubernetes cluster after its first sync). */
    default boolean synced() {
        return true;
    }

    /**
     * True for what this gateway's own cluster serves (static entries, the local cluster): only
     * these answer east-west traffic and count towards readiness.
     */
    default boolean local() {
        return true;
    }
}
