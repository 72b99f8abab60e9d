package io.meshgate.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The jar the image ships ({@code gateway/target/meshgate.jar}), run as a separate JVM like in the pod. */
final class MeshgateJar {

    private static final long COMMAND_TIMEOUT_SECONDS = 60;

    private MeshgateJar() {}

    static Path jar() {
        Path jar = RenderedManifests.deployDir().resolveSibling("gateway").resolve(Path.of("target", "meshgate.jar"));
        if (!Files.isRegularFile(jar)) {
            throw new AssertionError(jar + " is missing: build it in the same reactor "
                    + "(mvn -B -pl deploy -am verify packages the gateway first)");
        }
        return jar;
    }

    /** Runs a command to completion (e.g. {@code pki issue ...}); fails with its output unless it exits 0. */
    static String run(Path workDir, String... args) {
        try {
            Path log = Files.createTempFile(workDir, "meshgate-", ".log");
            Process p = processBuilder(workDir, Map.of(), List.of(args), log).start();
            if (!p.waitFor(COMMAND_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("meshgate " + String.join(" ", args) + " did not finish in "
                        + COMMAND_TIMEOUT_SECONDS + "s");
            }
            String output = Files.readString(log, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                throw new AssertionError("meshgate " + String.join(" ", args) + " exited " + p.exitValue() + ":\n" + output);
            }
            return output;
        } catch (IOException e) {
            throw new AssertionError("cannot run meshgate " + String.join(" ", args), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** Starts a long-running command (the gateway) with extra environment, output to {@code log}. */
    static Process start(Path workDir, Map<String, String> env, List<String> args, Path log) throws IOException {
        return processBuilder(workDir, env, args, log).start();
    }

    private static ProcessBuilder processBuilder(Path workDir, Map<String, String> env, List<String> args, Path log) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("-jar");
        command.add(jar().toString());
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().putAll(env);
        return pb;
    }
}
