package io.meshgate.gateway.demo;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;

/**
 * A demo cluster's API server: fabric8's mock server in CRUD mode (it stores what is applied and
 * serves list and watch like kube-apiserver does for Services and EndpointSlices), bound to the
 * cluster's own loopback address, reached by meshgate through an ordinary kubeconfig file.
 */
final class EmbeddedApiServer implements AutoCloseable {

    /**
     * The mock server logs every request at INFO through java.util.logging; the demo's output is
     * its step lines. Held in a field because JUL keeps loggers only weakly.
     */
    private static final java.util.logging.Logger REQUEST_LOG = quiet(java.util.logging.Logger.getLogger("io.fabric8.mockwebserver"));

    private final KubernetesMockServer server;
    private final KubernetesClient admin;
    private final String url;

    private EmbeddedApiServer(KubernetesMockServer server, String url) {
        this.server = server;
        this.url = url;
        Config config = Config.empty();
        config.setMasterUrl(url);
        config.setRequestRetryBackoffLimit(0);
        config.setConnectionTimeout(2000);
        config.setRequestTimeout(5000);
        this.admin = new KubernetesClientBuilder().withConfig(config).build();
    }

    /** Starts an API server on {@code host:port} (port 0: any free port). */
    static EmbeddedApiServer start(String host, int port) throws IOException {
        KubernetesMockServer server = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(),
                new KubernetesCrudDispatcher(), false);
        try {
            server.init(InetAddress.getByName(host), port);
        } catch (RuntimeException e) {
            server.destroy();
            throw new IOException("cannot start the API server on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        return new EmbeddedApiServer(server, "http://" + host + ":" + server.getPort());
    }

    private static java.util.logging.Logger quiet(java.util.logging.Logger logger) {
        logger.setLevel(java.util.logging.Level.WARNING);
        return logger;
    }

    String url() {
        return url;
    }

    /** The client an operator's kubectl would be: creates or replaces objects, as {@code kubectl apply}. */
    KubernetesClient admin() {
        return admin;
    }

    void apply(HasMetadata... objects) {
        for (HasMetadata o : objects) {
            o.getMetadata().setResourceVersion(null);
            admin.resource(o).createOr(NonDeletingOperation::update);
        }
    }

    /** Writes a kubeconfig for this API server, as {@code kubectl config view --minify --raw} would print it. */
    Path writeKubeconfig(Path file, String clusterName) throws IOException {
        Files.writeString(file, """
                apiVersion: v1
                kind: Config
                clusters:
                  - name: %1$s
                    cluster: {server: "%2$s"}
                contexts:
                  - name: %1$s
                    context: {cluster: %1$s, user: meshgate-reader}
                current-context: %1$s
                users:
                  - name: meshgate-reader
                    user: {token: demo}
                """.formatted(clusterName, url));
        return file;
    }

    @Override
    public void close() {
        admin.close();
        server.destroy();
    }
}
