package io.meshgate.e2e.real;

import io.meshgate.routing.kubernetes.real.ControlPlane;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;

/** A kubeconfig for a ServiceAccount: a TokenRequest token plus the cluster's CA, as an operator hands meshgate one. */
final class ServiceAccountKubeconfig {

    private ServiceAccountKubeconfig() {
    }

    static Path write(ControlPlane plane, String namespace, String serviceAccount, Path file) {
        String token = plane.kubectl("-n", namespace, "create", "token", serviceAccount, "--duration=1h").trim();
        try {
            String ca = Base64.getEncoder().encodeToString(Files.readAllBytes(plane.dir().resolve("pki/ca.crt")));
            Files.createDirectories(file.getParent());
            return Files.writeString(file, """
                    apiVersion: v1
                    kind: Config
                    clusters: [{name: %1$s, cluster: {server: "%2$s", certificate-authority-data: %3$s}}]
                    users: [{name: %4$s, user: {token: %5$s}}]
                    contexts: [{name: %1$s, context: {cluster: %1$s, user: %4$s}}]
                    current-context: %1$s
                    """.formatted(plane.name(), plane.apiUrl(), ca, serviceAccount, token));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
