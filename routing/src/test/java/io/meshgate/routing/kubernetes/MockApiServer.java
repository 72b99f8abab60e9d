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
 * fabric8's CRUD-mode mock API server (it stores what is applied and serves list and watch like
 * kube-apiserver does for Services and EndpointSlices) whose stored objects outlive the server, so a
 * test can take the API server down, change the cluster meanwhile and bring it back on the same port.
 * The tests' API server and {@code meshgate demo}'s (one per demo cluster, on the cluster's own
 * loopback address).
 */
public final class MockApiServer implements ApiBackend {

    /**
     * The mock server logs every request at INFO through java.util.logging; held in a field
     * because JUL keeps loggers only weakly.
     */
    private static final java.util.logging.Logger REQUEST_LOG = quiet(java.util.logging.Logger.getLogger("io.fabric8.mockwebserver"));

    private final String host;
    /** Path fragments (e.g. {@code /serviceexports}) refused with a status: 404 for an absent CRD, 403 without RBAC. */
    private final java.util.Map<String, Integer> notServed = new java.util.concurrent.ConcurrentHashMap<>();
    private final KubernetesCrudDispatcher store = new KubernetesCrudDispatcher() {
        @Override
        public io.fabric8.mockwebserver.http.MockResponse handleGet(String path) {
            return served(path) ? super.handleGet(path) : refusal(path);
        }

        @Override
        public io.fabric8.mockwebserver.http.MockResponse handleWatch(String path) {
            return served(path) ? super.handleWatch(path) : refusal(path);
        }
    };

    private boolean served(String path) {
        return notServed.keySet().stream().noneMatch(path::contains);
    }

    private io.fabric8.mockwebserver.http.MockResponse refusal(String path) {
        int code = notServed.entrySet().stream().filter(e -> path.contains(e.getKey())).findFirst().orElseThrow().getValue();
        String reason = code == 403 ? "Forbidden" : "NotFound";
        return new io.fabric8.mockwebserver.http.MockResponse().setResponseCode(code).setBody(
                "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"reason\":\"" + reason
                        + "\",\"code\":" + code + ",\"message\":\"refused by the test\"}");
    }

    /** From now on the API server answers 404 for paths containing {@code fragment} (a CRD that is absent). */
    public void stopServing(String fragment) {
        stopServing(fragment, 404);
    }

    /** From now on the API server answers {@code status} (404, 403) for paths containing {@code fragment}. */
    public void stopServing(String fragment, int status) {
        notServed.put(fragment, status);
    }

    /** Undoes {@link #stopServing(String)} (the CRD was installed). */
    public void serve(String fragment) {
        notServed.remove(fragment);
    }
    private KubernetesMockServer server;
    private int port;
    private KubernetesClient admin;

    private MockApiServer(String host) {
        this.host = host;
    }

    /** Starts on a free port of 127.0.0.1. */
    public static MockApiServer start() {
        return start("127.0.0.1", 0);
    }

    /** Starts on {@code host:port} (port 0: any free port). */
    public static MockApiServer start(String host, int port) {
        MockApiServer api = new MockApiServer(host);
        api.server = api.listen(port);
        api.port = api.server.getPort();
        api.admin = adminClient(host, api.port);
        return api;
    }

    /**
     * The operator's client (apply, delete): generous timeouts, because a mock server's first
     * requests can take seconds on a loaded machine and a failed apply fails the test or the demo.
     */
    private static KubernetesClient adminClient(String host, int port) {
        Config config = Config.empty();
        config.setMasterUrl(url(host, port));
        config.setRequestRetryBackoffLimit(0);
        config.setConnectionTimeout(5_000);
        config.setRequestTimeout(20_000);
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    private KubernetesMockServer listen(int onPort) {
        KubernetesMockServer s = new KubernetesMockServer(new Context(), new MockWebServer(), new HashMap<>(), store, false);
        try {
            s.init(InetAddress.getByName(host), onPort);
        } catch (java.io.IOException | RuntimeException e) {
            s.destroy();
            throw new IllegalStateException("cannot start the API server on " + host + ":" + onPort + ": " + e.getMessage(), e);
        }
        return s;
    }

    private static java.util.logging.Logger quiet(java.util.logging.Logger logger) {
        logger.setLevel(java.util.logging.Level.WARNING);
        return logger;
    }

    /** A client as the gateway would use it: short watch reconnect backoff so tests stay quick. */
    public static KubernetesClient client(int port) {
        return client("127.0.0.1", port);
    }

    private static KubernetesClient client(String host, int port) {
        Config config = Config.empty();
        config.setMasterUrl(url(host, port));
        config.setWatchReconnectInterval(100);
        config.setRequestRetryBackoffLimit(0);
        config.setConnectionTimeout(1000);
        config.setRequestTimeout(3000);
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    private static String url(String host, int port) {
        return "http://" + host + ":" + port;
    }

    public KubernetesClient newClient() {
        return client(host, port);
    }

    public int port() {
        return port;
    }

    /** The URL clients reach this API server at. */
    public String url() {
        return url(host, port);
    }

    /** The client an operator's kubectl would be. */
    public KubernetesClient admin() {
        return admin;
    }

    /** A kubeconfig for this server, as a user would hand one to meshgate. */
    public String kubeconfig() {
        return kubeconfig("mock");
    }

    /** A kubeconfig naming this server {@code clusterName}, as {@code kubectl config view --minify --raw} prints it. */
    public String kubeconfig(String clusterName) {
        return """
                apiVersion: v1
                kind: Config
                clusters: [{name: %1$s, cluster: {server: "%2$s"}}]
                contexts: [{name: %1$s, context: {cluster: %1$s, user: %1$s, namespace: default}}]
                current-context: %1$s
                users: [{name: %1$s, user: {token: test}}]
                """.formatted(clusterName, url(host, port));
    }

    /** Writes {@link #kubeconfig()} to {@code file}; returns it. */
    public java.nio.file.Path writeKubeconfig(java.nio.file.Path file) {
        return writeKubeconfig(file, "mock");
    }

    /** Writes {@link #kubeconfig(String)} to {@code file}; returns it. */
    public java.nio.file.Path writeKubeconfig(java.nio.file.Path file, String clusterName) {
        try {
            return java.nio.file.Files.writeString(file, kubeconfig(clusterName));
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
