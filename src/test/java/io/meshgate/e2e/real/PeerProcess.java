package io.meshgate.e2e.real;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A real peer's process (grpcpeer, node, curl): its output lines, read as they come. */
final class PeerProcess implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private final String name;
    private final Process process;
    private final List<String> lines = new ArrayList<>();
    private final Thread reader;

    private PeerProcess(String name, Process process) {
        this.name = name;
        this.process = process;
        this.reader = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    synchronized (lines) {
                        lines.add(line);
                    }
                }
            } catch (IOException ignored) {
                // the process ended
            }
        }, "peer-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    static PeerProcess start(String name, List<String> command) {
        return start(name, new ProcessBuilder(command));
    }

    static PeerProcess start(String name, ProcessBuilder command) {
        try {
            return new PeerProcess(name, command.redirectErrorStream(true).start());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    List<String> lines() {
        synchronized (lines) {
            return List.copyOf(lines);
        }
    }

    long count(String line) {
        return lines().stream().filter(line::equals).count();
    }

    /** The rest of the first line that starts with {@code prefix}, waited for; fails at once if the process ends without it. */
    String awaitLine(String prefix, Duration within) {
        long deadline = System.nanoTime() + within.toNanos();
        while (true) {
            boolean ended = !process.isAlive();
            if (ended) {
                try {
                    reader.join(2000); // the last lines
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            String found = lines().stream().filter(l -> l.startsWith(prefix)).findFirst().orElse(null);
            if (found != null) {
                return found.substring(prefix.length());
            }
            assertThat(ended).as("%s ended without '%s'; its output:%n%s", name, prefix, String.join("\n", lines())).isFalse();
            assertThat(System.nanoTime() - deadline).as("%s printed no '%s' within %s; its output:%n%s", name, prefix, within,
                    String.join("\n", lines())).isNegative();
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    int port() {
        return Integer.parseInt(awaitLine("LISTENING ", Duration.ofSeconds(20)).trim());
    }

    JsonNode result(Duration within) {
        try {
            return JSON.readTree(awaitLine("RESULT ", within));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Waits for the process to end; its exit code. */
    int exit(Duration within) throws InterruptedException {
        assertThat(process.waitFor(within.toMillis(), TimeUnit.MILLISECONDS)).as("%s still running; its output:\n%s",
                name, String.join("\n", lines())).isTrue();
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }
}
