package io.meshgate.e2e.real;

import io.meshgate.routing.kubernetes.real.ControlPlane;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.awaitility.Awaitility;
import org.awaitility.core.ConditionTimeoutException;

/** Deployments and Services applied with kubectl, and what the cluster says about their pods. */
final class Workloads {

    /** How long pods of a new workload may take to turn Ready (ReplicaSet controller, scheduler, kwok). */
    static final Duration POD_READY = Duration.ofSeconds(90);

    private Workloads() {
    }

    /**
     * A namespace whose Services meshgate exports (the label of {@code discovery.export: labelled},
     * the default), so the tests also prove the Namespace watch against a real API server and RBAC.
     */
    static String namespace(String ns) {
        return """
                apiVersion: v1
                kind: Namespace
                metadata:
                  name: %s
                  labels: {meshgate.io/export: "true"}
                """.formatted(ns);
    }

    /** A Deployment whose pods (run by kwok) name container port {@code http} = {@code containerPort}. */
    static String deployment(String ns, String name, int replicas, int containerPort) {
        return """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: %2$s, namespace: %1$s}
                spec:
                  replicas: %3$d
                  selector: {matchLabels: {app: %2$s}}
                  template:
                    metadata: {labels: {app: %2$s}}
                    spec:
                      terminationGracePeriodSeconds: 0
                      containers:
                        - name: app
                          image: example.invalid/%2$s:1
                          ports: [{name: http, containerPort: %4$d}]
                """.formatted(ns, name, replicas, containerPort);
    }

    /**
     * A bare Pod labelled {@code app: app}: nothing recreates it once deleted, so its IP is not
     * handed straight to a replacement (kwok reuses a freed pod IP at once).
     */
    static String pod(String ns, String name, String app, int containerPort) {
        return """
                apiVersion: v1
                kind: Pod
                metadata: {name: %2$s, namespace: %1$s, labels: {app: %3$s}}
                spec:
                  terminationGracePeriodSeconds: 0
                  containers:
                    - name: app
                      image: example.invalid/%3$s:1
                      ports: [{name: http, containerPort: %4$d}]
                """.formatted(ns, name, app, containerPort);
    }

    /** A Service with {@code port} → {@code targetPort} (a number, or a container port name). */
    static String service(String ns, String name, int port, String targetPort, boolean headless) {
        return """
                apiVersion: v1
                kind: Service
                metadata: {name: %2$s, namespace: %1$s}
                spec:
                  %5$s
                  selector: {app: %6$s}
                  ports: [{name: http, port: %3$d, targetPort: %4$s}]
                """.formatted(ns, name, port, targetPort, headless ? "clusterIP: None" : "type: ClusterIP",
                name.replace("-headless", ""));
    }

    static void apply(ControlPlane plane, String... yaml) {
        plane.kubectlWithInput(String.join("\n---\n", yaml), "apply", "-f", "-");
    }

    /** {@code ip:port} of every pod of {@code app} that is Ready, not terminating, sorted. */
    static List<String> readyPods(ControlPlane plane, String ns, String app, int port) {
        String out = plane.kubectl("-n", ns, "get", "pods", "-l", "app=" + app, "-o",
                "jsonpath={range .items[*]}{.status.podIP} {.metadata.deletionTimestamp} "
                        + "{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}");
        List<String> ready = new ArrayList<>();
        for (String line : out.split("\n")) {
            String[] f = line.trim().split(" +");
            // ip, then "True" directly when there is no deletionTimestamp
            if (f.length == 2 && !f[0].isEmpty() && f[1].equals("True")) {
                ready.add(f[0] + ":" + port);
            }
        }
        return List.copyOf(new TreeSet<>(ready));
    }

    /**
     * Waits (bounded) until {@code count} pods of {@code app} are Ready; returns their endpoints. On
     * time-out the failure shows each pod of the app (phase, node, IP, conditions with reasons), the
     * namespace's workloads and its events.
     */
    static List<String> awaitReadyPods(ControlPlane plane, String ns, String app, int port, int count) {
        List<List<String>> last = new ArrayList<>(List.of(List.of()));
        try {
            Awaitility.await().atMost(POD_READY).pollInterval(Duration.ofMillis(200)).until(() -> {
                last.set(0, readyPods(plane, ns, app, port));
                return last.get(0).size() == count;
            });
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("expected " + count + " Ready pods of app=" + app + " in namespace " + ns + " within "
                    + POD_READY.toSeconds() + " s, saw " + last.get(0).size() + " " + last.get(0) + "\n"
                    + seen(plane, ns, app), e);
        }
        return last.get(0);
    }

    /** The app's pods, the namespace's Deployments/ReplicaSets and its events, as kubectl shows them now. */
    static String seen(ControlPlane plane, String ns, String app) {
        StringBuilder out = new StringBuilder();
        for (String[] what : new String[][] {
                {"pods of app=" + app, "-n", ns, "get", "pods", "-l", "app=" + app, "-o",
                        "jsonpath={range .items[*]}{.metadata.name} phase={.status.phase} node={.spec.nodeName}"
                                + " ip={.status.podIP} deleting={.metadata.deletionTimestamp} conditions={range .status.conditions[*]}"
                                + "{.type}={.status}({.reason} {.message}) {end}{\"\\n\"}{end}"},
                {"workloads", "-n", ns, "get", "deployments,replicasets", "-o", "wide"},
                {"events", "-n", ns, "events"}}) {
            String[] args = Arrays.copyOfRange(what, 1, what.length);
            String answer;
            try {
                answer = plane.kubectl(args);
            } catch (RuntimeException e) {
                answer = "(" + e.getMessage() + ")";
            }
            out.append("--- ").append(what[0]).append(" ---\n").append(answer.isBlank() ? "(none)" : answer.stripTrailing()).append('\n');
        }
        return out.toString();
    }

    /**
     * A TCP echo server's source in {@code dir} ({@code java Echo.java PORT} runs it), for
     * {@code ControlPlane.serve} behind a pod's IP.
     */
    static Path echoServer(Path dir) throws IOException {
        Path file = dir.resolve("Echo.java");
        if (!Files.exists(file)) {
            Files.writeString(file, """
                    import java.net.*;
                    public class Echo {
                        public static void main(String[] args) throws Exception {
                            try (ServerSocket server = new ServerSocket(Integer.parseInt(args[0]))) {
                                while (true) {
                                    Socket c = server.accept();
                                    new Thread(() -> { try (c) { c.getInputStream().transferTo(c.getOutputStream()); } catch (Exception e) { } }).start();
                                }
                            }
                        }
                    }
                    """);
        }
        return file;
    }
}
