package io.meshgate.gateway.cli;

import io.meshgate.routing.Endpoint;
import io.meshgate.routing.kubernetes.RemoteClusters;
import io.meshgate.routing.kubernetes.RemoteSecrets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meshgate remote-secret}: prints a Secret (YAML) that, applied in another cluster's
 * meshgate namespace, makes that cluster's meshgate read this cluster's Services and
 * EndpointSlices and send egress traffic to this cluster's east-west gateway (like Istio's
 * {@code create-remote-secret}).
 */
@Command(name = "remote-secret", mixinStandardHelpOptions = true,
        description = "Prints a remote-cluster Secret (YAML) for another cluster's meshgate.")
public final class RemoteSecretCommand implements Callable<Integer> {

    @Option(names = "--kubeconfig", required = true, paramLabel = "FILE",
            description = "kubeconfig with read access (get/list/watch services, endpointslices) to THIS cluster")
    Path kubeconfig;

    @Option(names = "--name", required = true, paramLabel = "NAME", description = "this cluster's name in the mesh")
    String name;

    @Option(names = "--gateway", paramLabel = "HOST:PORT",
            description = "this cluster's east-west gateway address; default: discovered from its meshgate LoadBalancer Service")
    String gateway;

    @Option(names = "--namespace", defaultValue = "meshgate-system", paramLabel = "NS",
            description = "namespace of the other cluster's meshgate (default: ${DEFAULT-VALUE})")
    String namespace;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
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
        String content;
        try {
            content = Files.readString(kubeconfig);
        } catch (NoSuchFileException e) {
            throw new Main.UsageException("--kubeconfig: " + kubeconfig + ": no such file");
        } catch (IOException e) {
            throw new Main.UsageException("--kubeconfig: cannot read " + kubeconfig + ": " + e.getMessage());
        }
        try {
            RemoteClusters.kubeconfig(content, kubeconfig.toString());
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--kubeconfig: " + e.getMessage());
        }
        StringBuilder yaml = new StringBuilder()
                .append("apiVersion: v1\n")
                .append("kind: Secret\n")
                .append("metadata:\n")
                .append("  name: meshgate-remote-").append(name).append('\n')
                .append("  namespace: ").append(namespace).append('\n')
                .append("  labels:\n")
                .append("    ").append(RemoteSecrets.LABEL).append(": \"true\"\n")
                .append("  annotations:\n")
                .append("    ").append(RemoteSecrets.NAME_ANNOTATION).append(": ").append(name).append('\n')
                .append("type: Opaque\n")
                .append("stringData:\n");
        if (gateway != null) {
            yaml.append("  gateway: \"").append(gateway).append("\"\n");
        }
        yaml.append("  kubeconfig: |\n");
        content.lines().forEach(l -> yaml.append("    ").append(l).append('\n'));
        spec.commandLine().getOut().print(yaml);
        spec.commandLine().getOut().flush();
        return Main.EXIT_OK;
    }
}
