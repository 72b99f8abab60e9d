package io.meshgate.routing.kubernetes;

import static io.meshgate.routing.kubernetes.ServiceResolverTest.answer;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;

/** The discovery rule cases against fabric8's CRUD mock API server: quick, no controllers. */
class KubernetesClusterTest extends DiscoveryRuleCases {

    @Override
    protected ApiBackend startApi() {
        return MockApiServer.start();
    }

    @Override
    protected void assertLegacyEndpoints(String host) {
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(10)).during(Duration.ofMillis(300))
                .untilAsserted(() -> assertThat(answer(cluster.current().resolve(host, 3306)))
                        .containsExactly("no-healthy-endpoints"));
    }
}
