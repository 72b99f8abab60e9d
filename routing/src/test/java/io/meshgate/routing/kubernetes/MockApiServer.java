package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.function.Consumer;

/**
 * fabric8's CRUD-mode mock API server on 127.0.0.1 whose stored objects outlive the server, so a
 * test can take the API server down, change the cluster meanwhile and bring it back on the same port.
 */
public final class MockApiServer implements ApiBackend {

    private final KubernetesCrudDispatcher store = new KubernetesCrudDispatcher();
    private KubernetesMockServer server;
    private int port;
    private KubernetesClient admin;

    /** Starts on a free port. */
    public static MockApiServer start() {
        MockApiServer api = new MockApiServer();
        api.server = api.listen(0);
        api.port = api.server.getPort();
        api.admin = client(api.port);
        return api;
    }

    private KubernetesMockServer listen(int onPort) {
        KubernetesMockServer s = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), store, false);
        s.init(InetAddress.getLoopbackAddress(), onPort);
        return s;
    }

    /** A client as the gateway would use it: short watch reconnect backoff so tests stay quick. */
    public static KubernetesClient client(int port) {
        Config config = Config.empty();
        config.setMasterUrl("http://127.0.0.1:" + port);
        config.setWatchReconnectInterval(100);
        config.setRequestRetryBackoffLimit(0);
        config.setConnectionTimeout(1000);
        config.setRequestTimeout(3000);
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    public KubernetesClient newClient() {
        return client(port);
    }

    public int port() {
        return port;
    }

    /** A kubeconfig for this server, as a user would hand one to meshgate. */
    public String kubeconfig() {
        return """
                apiVersion: v1
                kind: Config
                clusters: [{name: mock, cluster: {server: "http://127.0.0.1:%d"}}]
                contexts: [{name: mock, context: {cluster: mock, user: mock, namespace: default}}]
                current-context: mock
                users: [{name: mock, user: {token: test}}]
                """.formatted(port);
    }

    /** Writes {@link #kubeconfig()} to {@code file}; returns it. */
    public java.nio.file.Path writeKubeconfig(java.nio.file.Path file) {
        try {
            return java.nio.file.Files.writeString(file, kubeconfig());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Creates or replaces objects as an operator would with kubectl apply. */
    public void apply(HasMetadata... objects) {
        for (HasMetadata o : objects) {
            o.getMetadata().setResourceVersion(null);
            admin.resource(o).createOr(NonDeletingOperation::update);
        }
    }

    public void delete(HasMetadata... objects) {
        for (HasMetadata o : objects) {
            admin.resource(o).delete();
        }
    }

    /** Takes the API server down; every open watch breaks. */
    public void stop() {
        server.destroy();
    }

    /** Changes the stored objects while the API server is down, through a second server on another port. */
    public void changeWhileDown(Consumer<MockApiServer> change) {
        KubernetesMockServer side = listen(0);
        KubernetesClient realAdmin = admin;
        try (KubernetesClient sideAdmin = client(side.getPort())) {
            admin = sideAdmin;
            change.accept(this);
        } finally {
            admin = realAdmin;
            side.destroy();
        }
    }

    /** Brings the API server back on its old port with the objects stored so far. */
    public void restart() {
        server = listen(port);
    }

    @Override
    public void close() {
        admin.close();
        try {
            server.destroy();
        } catch (IllegalStateException e) {
            // The mock's Vert.x server sometimes needs longer than its fixed 10 s wait to close on a
            // loaded machine; the test is over by then, so that is not a failure of the code under test.
            System.err.println("MockApiServer: " + e.getMessage() + " (ignored at teardown)");
        }
    }
}
