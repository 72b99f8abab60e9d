package io.meshgate.routing.kubernetes.real;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
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

    /** The components whose log tails {@link #describe} shows, in the order a pod passes them. */
    private static final List<String> COMPONENTS = List.of("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok");
    private static final int TAIL_LINES = 12;
    private static final int LINE_CHARS = 400;
    /** Warnings every healthy start of these planes logs (no front proxy, no beta APIs): left out of {@link #describe}. */
    private static final List<String> NOISE = List.of("extension-apiserver-authentication", "because it has no resources",
            "createTransport failed to connect");

    /**
     * What this plane looks like now, for a failure report: its nodes (Ready condition, last
     * heartbeat, taints, lease), every pod that is not Ready (phase, node, IP, conditions), the
     * latest events (FailedCreate, FailedScheduling, ...) and the warnings and last lines of each
     * component's log ({@code dir()/logs/}). Best effort and bounded: a part that cannot be read
     * says why; never throws.
     */
    public String describe() {
        StringBuilder out = new StringBuilder("control plane ").append(name()).append(" (").append(dir).append(") at ")
                .append(Instant.now()).append('\n');
        section(out, "nodes", quick("get", "nodes", "-o", "jsonpath={range .items[*]}{.metadata.name}"
                + " Ready={.status.conditions[?(@.type==\"Ready\")].status}"
                + " heartbeat={.status.conditions[?(@.type==\"Ready\")].lastHeartbeatTime}"
                + " taints={.spec.taints}{\"\\n\"}{end}"));
        section(out, "node leases", quick("-n", "kube-node-lease", "get", "leases", "-o",
                "jsonpath={range .items[*]}{.metadata.name} renewed={.spec.renewTime}{\"\\n\"}{end}"));
        String pods = quick("get", "pods", "-A", "-o", "jsonpath={range .items[*]}{.metadata.namespace}/{.metadata.name}"
                + " phase={.status.phase} node={.spec.nodeName} ip={.status.podIP} deleting={.metadata.deletionTimestamp}"
                + " created={.metadata.creationTimestamp} conditions={range .status.conditions[*]}{.type}={.status} {end}{\"\\n\"}{end}");
        List<String> notReady = pods.lines().filter(l -> !l.contains(" Ready=True ")).toList();
        section(out, "pods not Ready (" + notReady.size() + " of " + pods.lines().count() + ")",
                String.join("\n", notReady.subList(0, Math.min(notReady.size(), 40))));
        section(out, "latest events", lastLines(quick("events", "-A"), 30));
        for (String c : COMPONENTS) {
            section(out, "logs/" + c + ".log: warnings, then the last lines", logTail(dir.resolve("logs").resolve(c + ".log")));
        }
        return out.toString();
    }

    private static void section(StringBuilder out, String title, String body) {
        out.append("--- ").append(title).append(" ---\n").append(body.isBlank() ? "(none)" : body.stripTrailing()).append('\n');
    }

    /** kubectl with a short bound: its output, or why there is none. */
    private String quick(String... args) {
        List<String> cmd = new ArrayList<>(List.of(kubectlBinary().toString(), "--kubeconfig", kubeconfig().toString(),
                "--request-timeout=10s"));
        cmd.addAll(List.of(args));
        try {
            Commands.Result r = Commands.run(cmd, Duration.ofSeconds(20), null);
            return r.exitCode() == 0 ? r.stdout() : "(kubectl exited " + r.exitCode() + ": " + r.stderr().strip() + ")";
        } catch (RuntimeException e) {
            return "(" + e.getMessage() + ")";
        }
    }

    private static String lastLines(String text, int n) {
        List<String> lines = text.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    /** The log's last warnings/errors (klog {@code W}/{@code E} lines, kwok's WARN/ERROR) and its last lines, shortened. */
    static String logTail(Path log) {
        List<String> lines;
        try {
            lines = new String(Files.readAllBytes(log), StandardCharsets.UTF_8).lines().toList();
        } catch (IOException e) {
            return "(cannot read: " + e + ")";
        }
        List<String> warnings = lines.stream()
                .filter(l -> l.matches("^[EW]\\d{4} .*") || l.contains("\"level\":\"ERROR\"") || l.contains("\"level\":\"WARN\""))
                .filter(l -> NOISE.stream().noneMatch(l::contains))
                .toList();
        List<String> out = new ArrayList<>(warnings.subList(Math.max(0, warnings.size() - TAIL_LINES), warnings.size()));
        out.add("...");
        out.addAll(lines.subList(Math.max(0, lines.size() - TAIL_LINES), lines.size()));
        return String.join("\n", out.stream().map(ControlPlane::shorten).toList());
    }

    /** One log line, without kwok's source block, at most {@link #LINE_CHARS} characters. */
    private static String shorten(String line) {
        String s = line.replaceAll("\"source\":\\{[^}]*\\},", "");
        return s.length() <= LINE_CHARS ? s : s.substring(0, LINE_CHARS) + "...";
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
