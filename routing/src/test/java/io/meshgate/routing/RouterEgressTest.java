package io.meshgate.routing;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Cross-cluster routing rules: loop prevention, egress policies, readiness. */
class RouterEgressTest {

    static final String HOST = "httpbin.default.svc.cluster.local";
    static final OutboundSni SNI = new OutboundSni(8080, "", HOST);

    static StaticRoutes routes(String... endpoints) {
        if (endpoints.length == 0) {
            return new StaticRoutes(List.of());
        }
        return new StaticRoutes(List.of(new StaticRoutes.StaticService(HOST, 8080,
                java.util.Arrays.stream(endpoints).map(Endpoint::parse).toList(), AppProtocol.TCP)));
    }

    static RemoteCluster remote(String name, String gateway, String... endpoints) {
        return new RemoteCluster(name, routes(endpoints), Optional.ofNullable(gateway).map(Endpoint::parse),
                Optional::empty, () -> { });
    }

    @Test
    void eastWestNeverRoutesToAnotherCluster() {
        Router router = new Router(List.of(routes(), remote("cluster-a", "10.0.0.1:15443", "10.1.0.1:8080")));
        assertThat(router.resolve(SNI)).isEqualTo(Resolution.refused(RouteError.NO_SUCH_SERVICE));
    }

    @Test
    void localFirstUsesLocalEndpointsWhenHealthy() {
        Router router = new Router(List.of(routes("10.2.0.1:8080"), remote("cluster-a", "10.0.0.1:15443", "10.1.0.1:8080")));
        Resolution r = router.resolveEgress(SNI, Router.EgressPolicy.LOCAL_FIRST, new Random(1));
        assertThat(r).isInstanceOf(Resolution.Routed.class);
        assertThat(((Resolution.Routed) r).endpoints().endpoints()).containsExactly(Endpoint.parse("10.2.0.1:8080"));
    }

    @Test
    void localFirstGoesToTheRemoteGatewayWhenLocalHasNoEndpoints() {
        Router router = new Router(List.of(routes(), remote("cluster-a", "10.0.0.1:15443", "10.1.0.1:8080"),
                remote("cluster-c", "10.0.0.3:15443", "10.3.0.1:8080", "10.3.0.2:8080"), remote("cluster-d", "10.0.0.4:15443")));
        Resolution r = router.resolveEgress(SNI, Router.EgressPolicy.LOCAL_FIRST, new Random(1));
        assertThat(r).isInstanceOf(Resolution.ViaGateways.class);
        // Clusters with endpoints only, most healthy endpoints first; the next one is the fallback.
        assertThat(((Resolution.ViaGateways) r).gateways()).extracting(Resolution.RemoteGateway::cluster)
                .containsExactly("cluster-c", "cluster-a");
    }

    @Test
    void remoteWithoutAKnownGatewayIsSkipped() {
        Router router = new Router(List.of(routes(), remote("cluster-a", null, "10.1.0.1:8080")));
        assertThat(router.resolveEgress(SNI, Router.EgressPolicy.LOCAL_FIRST, new Random(1)))
                .isEqualTo(Resolution.refused(RouteError.NO_SUCH_SERVICE));
    }

    @Test
    void spreadWeightsClustersByHealthyEndpoints() {
        Router router = new Router(List.of(routes("10.2.0.1:8080"),
                remote("cluster-a", "10.0.0.1:15443", "10.1.0.1:8080", "10.1.0.2:8080", "10.1.0.3:8080")));
        Random random = new Random(7);
        int local = 0;
        int remote = 0;
        for (int i = 0; i < 4000; i++) {
            Resolution r = router.resolveEgress(SNI, Router.EgressPolicy.SPREAD, random);
            if (r instanceof Resolution.Routed) {
                local++;
            } else {
                assertThat(((Resolution.ViaGateways) r).gateways().get(0).cluster()).isEqualTo("cluster-a");
                remote++;
            }
        }
        // 1 local endpoint against 3 remote ones: about a quarter stays local.
        assertThat(local / 4000.0).isBetween(0.20, 0.30);
        assertThat(remote).isEqualTo(4000 - local);
    }

    @Test
    void remoteClustersNeverHoldReadinessBack() {
        RouteSource unsynced = new RouteSource() {
            @Override
            public String name() {
                return "cluster-a";
            }

            @Override
            public RouteTable current() {
                return RouteTable.EMPTY;
            }

            @Override
            public boolean synced() {
                return false;
            }
        };
        Router router = new Router(List.of(routes()));
        router.addSource(new RemoteCluster("cluster-a", unsynced, Optional.empty(), Optional::empty, () -> { }));
        assertThat(router.synced()).isTrue();
        router.addSource(unsynced);
        assertThat(router.synced()).isFalse();
    }

    @Test
    void remoteGatewaysListsClustersThatCanServe() {
        Router router = new Router(List.of(routes("10.2.0.1:8080"), remote("cluster-a", "10.0.0.1:15443", "10.1.0.1:8080")));
        assertThat(router.remoteGateways(SNI)).containsExactly(
                new Resolution.RemoteGateway("cluster-a", Endpoint.parse("10.0.0.1:15443"), 1));
        assertThat(router.remoteGateways(new OutboundSni(8080, "v1", HOST))).isEmpty();
    }
}
