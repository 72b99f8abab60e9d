package io.meshgate.routing.kubernetes.real;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One real control plane started by {@code deploy/test/control-plane up}: its kubeconfig
 * (cluster-admin), a fabric8 client on it, kubectl, and {@code serve}/{@code restart}.
 */
public final class ControlPlane implements AutoCloseable {

    private static final Duration KUBECTL_TIMEOUT = Duration.ofSeconds(60);

    private final Path script;
    private final Path dir;
    private final Map<String, String> env;
    private final List<Process> served = new ArrayList<>();
    private KubernetesClient client;

    ControlPlane(Path script, Path dir) {
        this.script = script;
        this.dir = dir;
        this.env = readEnv(dir.resolve("env"));
    }

    private static Map<String, String> readEnv(Path file) {
        Map<String, String> env = new HashMap<>();
        try {
            for (String line : Files.readAllLines(file)) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    env.put(line.substring(0, eq), line.substring(eq + 1));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return env;
    }

    public String name() {
        return env.get("NAME");
    }

    /** The loopback address every component of this plane listens on. */
    public String address() {
        return env.get("ADDRESS");
    }

    public String apiUrl() {
        return env.get("API_URL");
    }

    /** etcd's client URL (plain HTTP on the plane's address), e.g. for compaction. */
    public String etcdUrl() {
        return env.get("ETCD_URL");
    }

    public String podCidr() {
        return env.get("POD_CIDR");
    }

    public Path dir() {
        return dir;
    }

    /** The cluster-admin kubeconfig (certificates embedded). */
    public Path kubeconfig() {
        return dir.resolve("kubeconfig");
    }

    /** kubectl built from the same Kubernetes version as the API server. */
    public Path kubectlBinary() {
        return Path.of(env.get("BIN"), "kubectl");
    }

    /** A cluster-admin client; closed by {@link #close()}. */
    public synchronized KubernetesClient client() {
        if (client == null) {
            try {
                client = new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(kubeconfig().toFile())).build();
            } catch (RuntimeException e) {
                throw new IllegalStateException("cannot read " + kubeconfig(), e);
            }
        }
        return client;
    }

    /** Runs kubectl as cluster-admin; returns its standard output, throws with its output on failure. */
    public String kubectl(String... args) {
        return kubectlWithInput(null, args);
    }

    /** Runs kubectl as cluster-admin with {@code stdin} (e.g. {@code apply -f -}). */
    public String kubectlWithInput(String stdin, String... args) {
        List<String> cmd = new ArrayList<>(List.of(kubectlBinary().toString(), "--kubeconfig", kubeconfig().toString()));
        cmd.addAll(List.of(args));
        return Commands.run(cmd, KUBECTL_TIMEOUT, stdin).orThrow(cmd).stdout();
    }

    /** Runs kubectl and returns its result whatever the exit code (for expected refusals). */
    public Commands.Result kubectlResult(Path kubeconfig, String... args) {
        List<String> cmd = new ArrayList<>(List.of(kubectlBinary().toString(), "--kubeconfig", kubeconfig.toString()));
        cmd.addAll(List.of(args));
        return Commands.run(cmd, KUBECTL_TIMEOUT, null);
    }

    /**
     * {@code control-plane serve}: runs {@code command} in a network namespace holding the IP of
     * pod {@code namespaceAndPod}, so the host (and meshgate) reach it at the pod's address.
     * Stopped by {@link #close()} at the latest; output goes to {@code DIR/logs/serve-*.log}.
     */
    public Process serve(String namespaceAndPod, String... command) {
        List<String> cmd = new ArrayList<>(List.of(script.toString(), "serve", dir.toString(), namespaceAndPod, "--"));
        cmd.addAll(List.of(command));
        Path log = dir.resolve("logs").resolve("serve-" + namespaceAndPod.replace('/', '_') + ".log");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            synchronized (served) {
                served.add(p);
            }
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code control-plane restart}: stops and starts one component (etcd's data is kept). */
    public void restart(String component) {
        List<String> cmd = List.of(script.toString(), "restart", dir.toString(), component);
        Commands.run(cmd, Duration.ofMinutes(3), null).orThrow(cmd);
    }

    /** {@code control-plane down}: stops every process, network namespace and veth of this plane. */
    @Override
    public synchronized void close() {
        if (client != null) {
            client.close();
            client = null;
        }
        synchronized (served) {
            served.forEach(Process::destroy);
            served.clear();
        }
        down(script, dir);
    }

    static void down(Path script, Path dir) {
        List<String> cmd = List.of(script.toString(), "down", dir.toString());
        Commands.run(cmd, Duration.ofMinutes(2), null).orThrow(cmd);
    }
}
