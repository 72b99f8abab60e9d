package io.meshgate.gateway.interop;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real TLS stacks of the interop tests as child processes (bounded in time) and builds
 * the Go programs from the test resources with the machine's {@code go} (standard library only,
 * offline, no toolchain download).
 */
final class Tools {

    /** What a process printed and how it ended. */
    record Run(int exit, String out, String err, List<String> command) {
        String describe() {
            return "exit " + exit + " of " + String.join(" ", command) + "\n--- stdout\n" + out + "\n--- stderr\n" + err;
        }
    }

    private Tools() {}

    /** Fails with a clear message when a tool the matrix needs is not installed (.ci/run installs them). */
    static void require(String... tools) throws Exception {
        for (String tool : tools) {
            Run r = run(List.of("sh", "-c", "command -v " + tool), null, 10);
            if (r.exit() != 0) {
                throw new AssertionError(tool + " is not installed; the interop tests need it (.ci/run installs it)");
            }
        }
    }

    /**
     * Runs {@code command}; {@code stdin} (may be null) is written and left open until the process
     * ends, as an interactive client expects (the server closes the connection after its answer).
     */
    static Run run(List<String> command, String stdin, int timeoutSeconds) throws IOException, InterruptedException {
        return run(command, stdin, timeoutSeconds, Map.of());
    }

    static Run run(List<String> command, String stdin, int timeoutSeconds, Map<String, String> env)
            throws IOException, InterruptedException {
        Path out = Files.createTempFile("interop", ".out");
        Path err = Files.createTempFile("interop", ".err");
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
            pb.environment().putAll(env);
            Process p = pb.start();
            OutputStream in = p.getOutputStream();
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.US_ASCII));
                in.flush();
            } else {
                in.close();
            }
            boolean done = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
            if (!done) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            try {
                in.close();
            } catch (IOException ignored) {
                // the process is gone
            }
            return new Run(done ? p.exitValue() : -1, Files.readString(out, StandardCharsets.ISO_8859_1) + (done ? "" : "\n[timed out]"),
                    Files.readString(err, StandardCharsets.ISO_8859_1), new ArrayList<>(command));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Copies a test resource to {@code dir} and returns its path. */
    static Path resource(String name, Path dir) throws IOException {
        Path target = dir.resolve(name);
        try (var in = Tools.class.getResourceAsStream("/interop/" + name)) {
            if (in == null) {
                throw new IOException("test resource /interop/" + name + " is missing");
            }
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        }
        return target;
    }

    /** {@code go build} of one standard-library program from the test resources. */
    static Path goBuild(String source, Path dir) throws Exception {
        require("go");
        Path src = resource(source, dir);
        Path binary = dir.resolve(source.replace(".go", ""));
        Run r = run(List.of("go", "build", "-o", binary.toString(), src.toString()), null, 300,
                Map.of("GOTOOLCHAIN", "local", "GOPROXY", "off", "CGO_ENABLED", "0"));
        if (r.exit() != 0) {
            throw new AssertionError("go build failed: " + r.describe());
        }
        return binary;
    }
}
