package io.meshgate.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The image cannot be built here (no Docker engine), so this checks that its definition agrees
 * with what the Maven build produces and what the Deployment expects.
 */
class ContainerImageTest {

    private static final Path DOCKERFILE = RenderedManifests.deployDir().resolve(Path.of("image", "Dockerfile"));

    private static List<String> instructions() throws IOException {
        return Files.readAllLines(DOCKERFILE).stream()
                .map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("#"))
                .toList();
    }

    private static String argument(String instruction) throws IOException {
        Optional<String> last = instructions().stream()
                .filter(l -> l.startsWith(instruction + " "))
                .reduce((a, b) -> b);
        return last.orElseThrow(() -> new AssertionError(DOCKERFILE + " has no " + instruction)).substring(instruction.length() + 1).strip();
    }

    @Test
    void imageCopiesTheJarTheGatewayBuildProduces() throws IOException {
        assertThat(argument("COPY")).startsWith("gateway/target/meshgate.jar ");
        String gatewayPom = Files.readString(RenderedManifests.deployDir().resolveSibling("gateway").resolve("pom.xml"));
        assertThat(gatewayPom).as("the shaded jar is gateway/target/meshgate.jar").contains("<finalName>meshgate</finalName>");
        String jar = argument("COPY").substring("gateway/target/meshgate.jar ".length()).strip();
        assertThat(argument("ENTRYPOINT")).isEqualTo("[\"java\", \"-jar\", \"" + jar + "\"]");
    }

    @Test
    void imageUserIsTheNonRootUserTheDeploymentRunsAs() throws IOException {
        PodSecurityContext pod = RenderedManifests.of("base").pod().getSecurityContext();

        assertThat(argument("USER")).isEqualTo(pod.getRunAsUser() + ":" + pod.getRunAsGroup());
    }

    @Test
    void imageDefaultsMatchTheDeployment() throws IOException {
        RenderedManifests base = RenderedManifests.of("base");
        String cmd = "[" + String.join(", ", base.container().getArgs().stream().map(a -> "\"" + a + "\"").toList()) + "]";

        assertThat(argument("CMD")).isEqualTo(cmd);
        assertThat(Arrays.stream(argument("EXPOSE").split("\\s+")).map(Integer::valueOf).toList())
                .containsExactlyInAnyOrderElementsOf(base.container().getPorts().stream().map(ContainerPort::getContainerPort).toList());
    }
}
