package io.meshgate.deploy;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Renders a kustomization exactly as a user's {@code kubectl apply -k} would, so the checks see the
 * manifests that reach the API server and not the sources.
 */
final class Kustomize {

    private static final long TIMEOUT_SECONDS = 120;

    private Kustomize() {}

    /** {@code kubectl kustomize DIR}; fails (never skips) when kubectl is missing or the rendering fails. */
    static String render(Path kustomization) {
        Path kubectl = kubectl();
        try {
            Path out = Files.createTempFile("kustomize-", ".yaml");
            Path err = Files.createTempFile("kustomize-", ".err");
            try {
                Process p = new ProcessBuilder(kubectl.toString(), "kustomize", kustomization.toString())
                        .redirectOutput(out.toFile())
                        .redirectError(err.toFile())
                        .start();
                if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    throw new AssertionError(kubectl + " kustomize " + kustomization + " did not finish in "
                            + TIMEOUT_SECONDS + "s");
                }
                if (p.exitValue() != 0) {
                    throw new AssertionError(kubectl + " kustomize " + kustomization + " exited " + p.exitValue()
                            + " (kubectl 1.27+ (Kustomize v5) is needed for the kustomize features used here):\n"
                            + Files.readString(err, StandardCharsets.UTF_8));
                }
                return Files.readString(out, StandardCharsets.UTF_8);
            } finally {
                Files.deleteIfExists(out);
                Files.deleteIfExists(err);
            }
        } catch (IOException e) {
            throw new AssertionError("cannot run " + kubectl + " kustomize " + kustomization + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while rendering " + kustomization, e);
        }
    }

    /** {@code $KUBECTL} if set, else {@code kubectl} on the PATH. */
    static Path kubectl() {
        String explicit = System.getenv("KUBECTL");
        if (explicit != null && !explicit.isBlank()) {
            Path p = Path.of(explicit);
            if (!Files.isExecutable(p)) {
                throw new AssertionError("KUBECTL=" + explicit + " is not an executable file");
            }
            return p;
        }
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : List.of(path.split(File.pathSeparator))) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, "kubectl");
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new AssertionError("kubectl is not on the PATH (" + path + "): the deploy checks render the "
                + "Kustomize manifests with `kubectl kustomize`. Install kubectl 1.27 or newer "
                + "(e.g. `apt-get install kubectl`) or point KUBECTL at one.");
    }
}
