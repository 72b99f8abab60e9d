package io.meshgate.demo;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import io.meshgate.gateway.cli.Main;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import sun.misc.Signal;

/**
 * {@code meshgate demo}: the whole seed on one machine with nothing but the JDK (the README's first lines):
 * exits 0 only if every step passed; {@code --keep-running} leaves it up until Ctrl-C.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"The whole mesh on one machine: two clusters, one meshgate each, six steps proven.",
                "Two clusters on 127.0.0.0/8 (same trust domain cluster.local, their own root CAs and API servers) "
                        + "joined into one mesh by a federated bundle; prints PASS/FAIL per step and exits 0 only if "
                        + "every step passed. Files (certificates, kubeconfigs, meshgate.yaml) go to --dir.",
                "Needs the loopback addresses 127.0.0.11, 127.0.0.12 and 127.0.1.1-3 (any 127.x address works on "
                        + "Linux; on macOS add them with `sudo ifconfig lo0 alias 127.0.0.11` etc.)."})
public final class DemoCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--dir", paramLabel = "DIR",
            description = "Where the certificates, kubeconfigs and meshgate.yaml files go (default: a new temporary folder).")
    Path dir;

    @Option(names = "--keep-running", description = "Leave both clusters up after the steps, print how to poke them, "
            + "stop on Ctrl-C.")
    boolean keepRunning;

    @Option(names = "--network", paramLabel = "127.X", defaultValue = "127.0",
            description = "The loopback /16 to use, as its first two octets (default: ${DEFAULT-VALUE}).")
    String network;

    @Option(names = "--verbose", description = "Show the gateways' INFO logs.")
    boolean verbose;

    @Option(names = "--clean", description = "Delete the demo's files (its CAs' private keys included) when it ends.")
    boolean clean;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        if (!verbose && System.getenv("MESHGATE_LOG_LEVEL") == null) {
            quietLogs();
        }
        Path where = dir != null ? dir : Files.createTempDirectory("meshgate-demo-");
        Demo demo;
        try {
            demo = Demo.start(where, network, out);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        try {
            List<StepResult> results = demo.prove();
            boolean passed = results.stream().allMatch(StepResult::passed);
            if (keepRunning) {
                out.println();
                out.println(demo.pokeInstructions());
                out.flush();
                awaitCtrlC();
            }
            return passed ? Main.EXIT_OK : Main.EXIT_FAILURE;
        } finally {
            demo.close();
            if (clean) {
                deleteTree(where);
                out.println("meshgate demo: removed " + where);
            } else {
                out.println("meshgate demo: left its files in " + where + " (certificates, the two demo CAs' private keys, "
                        + "kubeconfigs, meshgate.yaml); remove them with: rm -rf " + where + "  (or run with --clean)");
            }
            out.flush();
        }
    }

    private static void deleteTree(Path root) throws java.io.IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static void awaitCtrlC() throws InterruptedException {
        CountDownLatch stop = new CountDownLatch(1);
        Signal.handle(new Signal("INT"), s -> stop.countDown());
        Signal.handle(new Signal("TERM"), s -> stop.countDown());
        stop.await();
    }

    /** The demo speaks in PASS/FAIL lines; the gateways' INFO logs would bury them. */
    private static void quietLogs() {
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext logback) {
            logback.getLogger(Logger.ROOT_LOGGER_NAME).setLevel(Level.WARN);
        }
    }
}
