package io.meshgate.routing.kubernetes;

import io.meshgate.routing.kubernetes.real.RealApiBackend;
import io.meshgate.routing.kubernetes.real.RealCluster;
import io.meshgate.routing.kubernetes.real.RealClusterExtension;

/**
 * The discovery rule cases against a real kube-apiserver (server-side validation, real watch
 * semantics) with kube-controller-manager's EndpointSlice controllers running beside them.
 */
@RealCluster
class KubernetesClusterOnRealApiServerTest extends DiscoveryRuleCases {

    @Override
    protected ApiBackend startApi() {
        return new RealApiBackend(RealClusterExtension.planesOf(getClass()).get(0));
    }

    @Override
    protected void assertLegacyEndpoints(String host) {
        awaitAnswer(host, 3306, "10.0.0.1:3306"); // mirrored into an EndpointSlice by kube-controller-manager
    }
}
