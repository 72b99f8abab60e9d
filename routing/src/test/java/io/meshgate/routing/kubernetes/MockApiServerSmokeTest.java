package io.meshgate.routing.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.util.HashMap;
import org.junit.jupiter.api.Test;

/** The CRUD mock API server (Vert.x 4.5) runs on the gateway's Netty 4.2 class path. */
class MockApiServerSmokeTest {

    @Test
    void crudMockServerStoresAndListsAServiceUnderNetty42() {
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        server.init();
        try (KubernetesClient client = server.createClient()) {
            client.services().inNamespace("default").resource(new ServiceBuilder()
                    .withNewMetadata().withName("httpbin").withNamespace("default").endMetadata()
                    .withNewSpec().addNewPort().withPort(8080).endPort().endSpec().build()).create();
            assertThat(client.services().inNamespace("default").list().getItems())
                    .extracting(s -> s.getMetadata().getName()).containsExactly("httpbin");
            assertThat(io.netty.util.Version.identify().get("netty-common").artifactVersion()).isEqualTo("4.2.18.Final");
        } finally {
            server.destroy();
        }
    }
}
