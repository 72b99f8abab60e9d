package io.meshgate.routing.kubernetes.real;

import java.util.List;

/** The control planes of a {@link RealCluster} test class, in start order (cluster-a, cluster-b). */
public record ControlPlanes(List<ControlPlane> all) {

    public ControlPlanes {
        all = List.copyOf(all);
    }

    public ControlPlane get(int index) {
        return all.get(index);
    }
}
