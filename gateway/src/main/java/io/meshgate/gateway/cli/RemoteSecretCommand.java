package io.meshgate.gateway.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.meshgate.gateway.config.Durations;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.kubernetes.RemoteSecrets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meshgate remote-secret}: prints a Secret (YAML) that, applied in another cluster's
 * meshgate namespace, makes that cluster's meshgate read this cluster's Services and
 * EndpointSlices and send egress traffic to this cluster's east-west gateway (like Istio's
 * {@code create-remote-secret}). The kubeconfig inside is built here, self-contained: the API
 * server, its CA as data and the bearer token of a read-only ServiceAccount obtained from the API.
 */
@Command(name = "remote-secret", mixinStandardHelpOptions = true,
        description = {"Prints a remote-cluster Secret (YAML) for another cluster's meshgate.",
                "The kubeconfig in it holds this cluster's API server, its CA and the token of a read-only ServiceAccount.",
                "Exec and auth-provider plugins are never run and file paths are never followed (exit 2)."})
public final class RemoteSecretCommand implements Callable<Integer> {

    @Option(names = "--kubeconfig", required = true, paramLabel = "FILE",
            description = "kubeconfig for THIS cluster with inline credentials (token or client certificate); "
                    + "it is used to read (or, with --create-service-account, create) the reader account")
    Path kubeconfig;

    @Option(names = "--context", paramLabel = "NAME", description = "context of --kubeconfig (default: its current-context)")
    String context;

    @Option(names = "--name", required = true, paramLabel = "NAME", description = "this cluster's name in the mesh")
    String name;

    @Option(names = "--server", paramLabel = "URL",
            description = "API server URL as pods of the OTHER cluster reach it (default: the kubeconfig's server)")
    String server;

    @Option(names = "--gateway", paramLabel = "HOST:PORT",
            description = "this cluster's east-west gateway address; default: discovered from its meshgate LoadBalancer Service")
    String gateway;

    @Option(names = "--namespace", defaultValue = "meshgate-system", paramLabel = "NS",
            description = "namespace of the OTHER cluster's meshgate, where the Secret goes (default: ${DEFAULT-VALUE})")
    String namespace;

    @Option(names = "--service-account", defaultValue = "meshgate-system/meshgate-reader", paramLabel = "NS/NAME",
            description = "the reader ServiceAccount in THIS cluster whose token goes into the Secret (default: ${DEFAULT-VALUE})")
    String serviceAccount;

    @Option(names = "--create-service-account",
            description = "create (or update) that ServiceAccount, its read-only RBAC and its token Secret in THIS cluster")
    boolean createServiceAccount;

    @Option(names = "--token-wait", defaultValue = "30s", paramLabel = "DURATION",
            description = "how long to wait for Kubernetes to fill the token Secret (default: ${DEFAULT-VALUE})")
    String tokenWait;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        if (!name.matches("[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?")) {
            throw new Main.UsageException("--name: '" + name + "' must be a DNS label (lower case, digits, '-')");
        }
        if (gateway != null) {
            try {
                Endpoint.parse(gateway);
            } catch (IllegalArgumentException e) {
                throw new Main.UsageException("--gateway: " + e.getMessage());
            }
        }
        if (server != null && !server.startsWith("https://") && !server.startsWith("http://")) {
            throw new Main.UsageException("--server: '" + server + "' is not an http(s) URL");
        }
        Duration wait;
        try {
            wait = Durations.parse(tokenWait);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--token-wait: " + e.getMessage());
        }
        ReaderAccount reader = ReaderAccount.parse(serviceAccount);
        SourceKubeconfig source = SourceKubeconfig.read(kubeconfig, context);

        ReaderAccount.Token token;
        try (KubernetesClient client = new KubernetesClientBuilder().withConfig(source.clientConfig()).build()) {
            if (createServiceAccount) {
                reader.create(client);
            }
            token = reader.token(client, wait);
        } catch (KubernetesClientException e) {
            throw new IllegalStateException("API server " + source.server() + ": " + apiProblem(e));
        }
        String url = server != null ? server : source.server();
        String caData = source.caData() != null ? source.caData() : token.caData();
        if (url.startsWith("http://")) {
            spec.commandLine().getErr().println("meshgate: warning: " + url + " is plain HTTP: the token would travel unencrypted");
        } else if (caData == null) {
            throw new Main.UsageException("--kubeconfig " + kubeconfig + ": no certificate-authority-data and the token Secret has "
                    + "no ca.crt; the other cluster could not verify " + url);
        }
        String kubeconfigYaml = kubeconfig(url, caData, token.bearer());
        Map<String, String> data = new LinkedHashMap<>();
        if (gateway != null) {
            data.put("gateway", gateway);
        }
        data.put("kubeconfig", kubeconfigYaml);
        Secret secret = new SecretBuilder()
                .withNewMetadata().withName("meshgate-remote-" + name).withNamespace(namespace)
                .addToLabels(RemoteSecrets.LABEL, "true").addToAnnotations(RemoteSecrets.NAME_ANNOTATION, name).endMetadata()
                .withType("Opaque").withStringData(data).build();
        spec.commandLine().getOut().print(new KubernetesSerialization().asYaml(secret));
        spec.commandLine().getOut().flush();
        return Main.EXIT_OK;
    }

    /** A kubeconfig that works inside a pod of another cluster: everything inline, one context named after the cluster. */
    private String kubeconfig(String url, String caData, String token) {
        Map<String, Object> cluster = new LinkedHashMap<>();
        cluster.put("server", url);
        if (caData != null && url.startsWith("https://")) {
            cluster.put("certificate-authority-data", caData);
        }
        String user = "meshgate-reader";
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("apiVersion", "v1");
        config.put("kind", "Config");
        config.put("clusters", List.of(Map.of("name", name, "cluster", cluster)));
        config.put("users", List.of(Map.of("name", user, "user", Map.of("token", token))));
        config.put("contexts", List.of(Map.of("name", name, "context", Map.of("cluster", name, "user", user))));
        config.put("current-context", name);
        try {
            return YAMLMapper.builder().disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER).enable(YAMLGenerator.Feature.MINIMIZE_QUOTES).build().writeValueAsString(config);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the kubeconfig", e);
        }
    }

    /** What the API server said, without a stack trace: the status code and reason. */
    static String apiProblem(KubernetesClientException e) {
        if (e.getStatus() != null && e.getStatus().getMessage() != null) {
            return e.getCode() + " " + e.getStatus().getMessage();
        }
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        return cause.getClass().getSimpleName() + (cause.getMessage() == null ? "" : ": " + cause.getMessage());
    }
}
