package io.meshgate.gateway.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.client.Config;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The kubeconfig {@code remote-secret} is given to reach the source cluster, read as data only:
 * exec and auth-provider plugins are never run and file paths are never followed, because a
 * remote Secret must work inside a pod of another cluster. Every refusal names the file and the
 * key, never a value from the file (it may be a private key handed over by mistake).
 *
 * @param server     the API server URL
 * @param caData     base64 PEM of the CA that signs the API server's certificate; null when none is given
 * @param credential how this kubeconfig authenticates (a bearer token, a client certificate or basic auth)
 */
record SourceKubeconfig(String server, String caData, Credential credential) {

    /** Credentials a kubeconfig may carry inline. */
    record Credential(String token, String clientCertData, String clientKeyData, String username, String password) {}

    private static final YAMLMapper YAML = new YAMLMapper();

    /** Reads {@code file}, using {@code context} or its current-context; {@link Main.UsageException} on anything unusable. */
    static SourceKubeconfig read(Path file, String context) {
        String where = "--kubeconfig " + file;
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new Main.UsageException(where + ": no such file");
        } catch (IOException e) {
            throw new Main.UsageException(where + ": cannot read (" + e.getClass().getSimpleName() + ")");
        }
        JsonNode root;
        try {
            root = YAML.readTree(new String(bytes, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            // Parser messages quote the input: say where, never what.
            throw new Main.UsageException(where + ": not a kubeconfig (not YAML"
                    + (e.getLocation() == null ? "" : ", line " + e.getLocation().getLineNr()) + ")");
        }
        if (root == null || !root.isObject() || !"Config".equals(root.path("kind").asText(null))) {
            throw new Main.UsageException(where + ": not a kubeconfig (no 'kind: Config' at the top)");
        }
        String contextName = context != null ? context : root.path("current-context").asText("");
        if (contextName.isEmpty()) {
            throw new Main.UsageException(where + ": no current-context; pass --context");
        }
        JsonNode ctx = named(root, "contexts", contextName, where).path("context");
        String clusterName = ctx.path("cluster").asText("");
        String userName = ctx.path("user").asText("");
        JsonNode cluster = named(root, "clusters", clusterName, where + ": context '" + contextName + "'").path("cluster");
        JsonNode user = named(root, "users", userName, where + ": context '" + contextName + "'").path("user");

        String at = where + ": clusters[" + clusterName + "].cluster.";
        String server = cluster.path("server").asText("");
        if (server.isEmpty()) {
            throw new Main.UsageException(at + "server: missing");
        }
        if (!server.startsWith("https://") && !server.startsWith("http://")) {
            throw new Main.UsageException(at + "server: not an http(s) URL");
        }
        if (cluster.has("certificate-authority")) {
            throw new Main.UsageException(at + "certificate-authority: a file path, which a pod in another cluster does not have; "
                    + "embed the file (kubectl config view --raw --minify --flatten > FILE)");
        }
        if (cluster.path("insecure-skip-tls-verify").asBoolean(false)) {
            throw new Main.UsageException(at + "insecure-skip-tls-verify: the remote Secret would not verify the API server; "
                    + "give certificate-authority-data instead");
        }
        String caData = text(cluster, "certificate-authority-data");

        String u = where + ": users[" + userName + "].user.";
        if (user.has("exec")) {
            throw new Main.UsageException(u + "exec: credential plugins are not run (the remote Secret would need the plugin "
                    + "and its files inside the pod); use a kubeconfig with a token or client certificate, e.g. "
                    + "kubectl create token ADMIN_SA, or --create-service-account with such a kubeconfig");
        }
        if (user.has("auth-provider")) {
            throw new Main.UsageException(u + "auth-provider: auth-provider plugins are not run; use a kubeconfig with a token "
                    + "or client certificate");
        }
        for (String pathKey : List.of("tokenFile", "client-certificate", "client-key")) {
            if (user.has(pathKey)) {
                throw new Main.UsageException(u + pathKey + ": a file path, which is not followed; embed it "
                        + "(kubectl config view --raw --minify --flatten > FILE)");
            }
        }
        Credential credential = new Credential(text(user, "token"), text(user, "client-certificate-data"),
                text(user, "client-key-data"), text(user, "username"), text(user, "password"));
        boolean cert = credential.clientCertData() != null && credential.clientKeyData() != null;
        boolean basic = credential.username() != null && credential.password() != null;
        if (credential.token() == null && !cert && !basic) {
            throw new Main.UsageException(u + ": no inline credentials (token, client-certificate-data + client-key-data)");
        }
        return new SourceKubeconfig(server, caData, credential);
    }

    /** A fabric8 client config for exactly this server and credential: nothing read from the environment or home. */
    Config clientConfig() {
        Config config = Config.empty();
        config.setMasterUrl(server);
        config.setCaCertData(caData);
        config.setOauthToken(credential.token());
        config.setClientCertData(credential.clientCertData());
        config.setClientKeyData(credential.clientKeyData());
        config.setUsername(credential.username());
        config.setPassword(credential.password());
        config.setConnectionTimeout(5_000);
        config.setRequestTimeout(10_000);
        config.setRequestRetryBackoffLimit(0);
        return config;
    }

    private static JsonNode named(JsonNode root, String list, String name, String where) {
        List<String> names = new ArrayList<>();
        for (JsonNode entry : root.path(list)) {
            String n = entry.path("name").asText("");
            if (n.equals(name)) {
                return entry;
            }
            names.add(n);
        }
        throw new Main.UsageException(where + ": no " + list.substring(0, list.length() - 1) + " named '" + name
                + "' (has " + names + ")");
    }

    private static String text(JsonNode node, String key) {
        String value = node.path(key).asText("");
        return value.isEmpty() ? null : value;
    }
}
