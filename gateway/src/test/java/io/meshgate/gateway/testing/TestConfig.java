package io.meshgate.gateway.testing;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * A {@code meshgate.yaml} for gateway tests, built by typed calls instead of formatted strings:
 * every address is {@code 127.0.0.1:0}, the admin server is on, and what a test sets is a key of
 * the real config (the file goes through the same loader, binder and validation as a user's).
 * Tests of the YAML itself (parsing, error messages) keep writing YAML.
 */
public final class TestConfig {

    private static final YAMLMapper YAML = new YAMLMapper();

    private final ObjectNode root = YAML.createObjectNode();

    private TestConfig() {
        root.putArray("listeners");
        root.putObject("admin").put("address", "127.0.0.1:0");
    }

    /** Nothing but the admin server; add listeners and services. */
    public static TestConfig gateway() {
        return new TestConfig();
    }

    /**
     * The passthrough setup most data-path tests share: listener {@code eastwest} routing
     * {@link TlsPeers#HOST}:8080 (protocol unset: tcp) to {@code endpoints}.
     */
    public static TestConfig passthrough(String... endpoints) {
        return gateway().listener("eastwest", "passthrough").staticService(TlsPeers.HOST, 8080, null, endpoints);
    }

    /**
     * The terminate setup: listener {@code eastwest-mtls} (one worker, so pooled upstreams are
     * shared by every downstream) routing {@link TlsPeers#HOST}:8080 ({@code protocol}) to
     * {@code endpoints}, with the gateway files {@link MeshPki#writeGatewayFiles} wrote in {@code dir}.
     */
    public static TestConfig terminate(Path dir, String protocol, String upstream, String... endpoints) {
        return gateway().listener("eastwest-mtls", "terminate").staticService(TlsPeers.HOST, 8080, protocol, endpoints)
                .workers(1).tls(dir, upstream);
    }

    /** A listener on {@code 127.0.0.1:0}. */
    public TestConfig listener(String name, String mode) {
        ((ArrayNode) root.get("listeners")).addObject().put("name", name).put("address", "127.0.0.1:0").put("mode", mode);
        return this;
    }

    /** {@code listeners[name].maxConnections}. */
    public TestConfig maxConnections(String listener, int max) {
        for (JsonNode l : root.get("listeners")) {
            if (l.get("name").asText().equals(listener)) {
                ((ObjectNode) l).put("maxConnections", max);
                return this;
            }
        }
        throw new IllegalArgumentException("no listener " + listener);
    }

    /** {@code discovery.static[]}; {@code protocol} null leaves the default (tcp). */
    public TestConfig staticService(String host, int port, String protocol, String... endpoints) {
        ObjectNode s = array(discovery(), "static").addObject().put("host", host).put("port", port);
        ArrayNode e = s.putArray("endpoints");
        for (String endpoint : endpoints) {
            e.add(endpoint);
        }
        if (protocol != null) {
            s.put("protocol", protocol);
        }
        return this;
    }

    /** {@code discovery.clusters[]}: a local cluster read through {@code kubeconfig} (relative to the config file, or absolute). */
    public TestConfig cluster(String name, String kubeconfig) {
        array(discovery(), "clusters").addObject().put("name", name).put("kubeconfig", kubeconfig);
        return this;
    }

    /** {@code discovery.clusters[]}: a remote cluster whose services are reached through its gateway {@code host:port}. */
    public TestConfig remoteCluster(String name, String kubeconfig, String gateway) {
        array(discovery(), "clusters").addObject().put("name", name).put("kubeconfig", kubeconfig)
                .put("remote", true).put("gateway", gateway);
        return this;
    }

    /** {@code discovery.remoteSecrets.namespace}. */
    public TestConfig remoteSecrets(String namespace) {
        return set("discovery.remoteSecrets.namespace", namespace);
    }

    /** The {@code tls} block for the files {@link MeshPki#writeGatewayFiles} wrote in {@code dir}; trust domain {@code cluster.local}. */
    public TestConfig tls(Path dir, String upstream) {
        ObjectNode t = root.putObject("tls").put("certificateChain", dir.resolve("gateway-chain.pem").toString())
                .put("privateKey", dir.resolve("gateway.key").toString())
                .put("trustBundle", dir.resolve("bundle.pem").toString())
                .put("upstream", upstream);
        t.putArray("allowedTrustDomains").add("cluster.local");
        return this;
    }

    /** {@code runtime.workers}. */
    public TestConfig workers(int workers) {
        return set("runtime.workers", workers);
    }

    /** {@code runtime.warmup}; without it the gateway starts with no warm-up (seconds per gateway, and most tests start several). */
    public TestConfig warmup(String duration) {
        return set("runtime.warmup", duration);
    }

    /** {@code timeouts.idle} and friends: {@code timeout("idle", "400ms")}. */
    public TestConfig timeout(String name, String duration) {
        return set("timeouts." + name, duration);
    }

    /** {@code accessLog.path} (relative to the config file, or absolute). */
    public TestConfig accessLog(String path) {
        return set("accessLog.path", path);
    }

    /** {@code loadBalancing.policy}. */
    public TestConfig balancing(String policy) {
        return set("loadBalancing.policy", policy);
    }

    /**
     * Any other key by its dotted path, e.g. {@code set("trust.federation.removalGrace", "2s")}:
     * intermediate sections are created; a value replaces what was there.
     */
    public TestConfig set(String dottedKey, Object value) {
        String[] path = dottedKey.split("\\.");
        ObjectNode node = root;
        for (int i = 0; i < path.length - 1; i++) {
            node = node.has(path[i]) ? (ObjectNode) node.get(path[i]) : node.putObject(path[i]);
        }
        node.set(path[path.length - 1], YAML.valueToTree(value));
        return this;
    }

    /**
     * Merges a YAML fragment of top-level sections (a section present in both is merged key by
     * key). For callers that still pass configuration as YAML text.
     */
    public TestConfig merge(String yamlFragment) {
        try {
            JsonNode extra = YAML.readTree(yamlFragment);
            if (extra instanceof ObjectNode o) {
                merge(root, o);
            } else if (extra != null && !extra.isMissingNode() && !extra.isNull()) {
                throw new IllegalArgumentException("not a YAML mapping: " + yamlFragment);
            }
            return this;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("bad YAML fragment: " + e.getOriginalMessage(), e);
        }
    }

    private static void merge(ObjectNode into, ObjectNode from) {
        for (Iterator<Map.Entry<String, JsonNode>> it = from.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode existing = into.get(e.getKey());
            if (existing instanceof ObjectNode target && e.getValue() instanceof ObjectNode source) {
                merge(target, source);
            } else {
                into.set(e.getKey(), e.getValue());
            }
        }
    }

    /** Whether the test asked for a warm-up. */
    public boolean warmsUp() {
        return root.has("runtime") && root.get("runtime").has("warmup");
    }

    private static ArrayNode array(ObjectNode node, String name) {
        return node.has(name) ? (ArrayNode) node.get(name) : node.putArray(name);
    }

    private ObjectNode discovery() {
        return root.has("discovery") ? (ObjectNode) root.get("discovery") : root.putObject("discovery");
    }

    public String yaml() {
        try {
            return YAML.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes {@code dir/meshgate.yaml}; returns its path. */
    public Path write(Path dir) {
        Path file = dir.resolve("meshgate.yaml");
        try {
            Files.writeString(file, yaml());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    @Override
    public String toString() {
        return yaml();
    }
}
