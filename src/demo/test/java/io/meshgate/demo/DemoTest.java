package io.meshgate.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.cli.Main;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code meshgate demo} run in-process as a user runs it: every one of the six steps prints its
 * PASS line, the exit code is 0, the files a user would reuse are where it says, and nothing it
 * started keeps running afterwards.
 */
class DemoTest {

    @TempDir
    Path dir;

    @Test
    @Timeout(90)
    void everyStepOfTheDemoPassesAndNothingOutlivesIt() throws InterruptedException {
        Set<Thread> before = nonDaemonThreads();
        // A /16 of its own, so a demo running on the same machine (127.0) or another build's test does not collide.
        String network = "127." + ThreadLocalRandom.current().nextInt(100, 250);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();

        int exit = Main.commandLine(new DemoCommand()).setOut(new PrintWriter(out, true)).setErr(new PrintWriter(err, true))
                .execute("--dir", dir.toString(), "--network", network, "--verbose");

        String printed = out.toString();
        System.out.println(printed);
        assertThat(printed).contains("files in " + dir.toAbsolutePath())
                .contains("left its files in " + dir.toAbsolutePath(), "private keys", "--clean");
        for (int step = 1; step <= 6; step++) {
            assertThat(printed).as("step %d", step).containsPattern("(?m)^PASS " + step + "  ");
        }
        assertThat(printed).doesNotContain("FAIL ").contains("all 6 steps passed");
        assertThat(exit).as("exit code; stderr: %s", err).isZero();
        assertThat(dir.resolve("bundle.pem")).isRegularFile();
        assertThat(dir.resolve("cluster-a/meshgate.yaml")).content().contains("mode: passthrough");
        assertThat(dir.resolve("cluster-b/cluster-a.kubeconfig")).content().contains("server: \"http://" + network + ".0.11:6443\"");
        // Threads that were there before may have ended meanwhile (Netty's global executor idles out): only new ones count.
        assertThat(nonDaemonThreadsAfter(before, Duration.ofSeconds(10))).as("non-daemon threads left behind")
                .isSubsetOf(names(before));
    }

    /** Polls on this thread (a poller thread of its own would count itself) until no extra thread is left, or the time is up. */
    private static Set<String> nonDaemonThreadsAfter(Set<Thread> before, Duration atMost) throws InterruptedException {
        long deadline = System.nanoTime() + atMost.toNanos();
        Set<String> now = names(nonDaemonThreads());
        while (!names(before).containsAll(now) && System.nanoTime() < deadline) {
            Thread.sleep(50);
            now = names(nonDaemonThreads());
        }
        return now;
    }

    private static Set<Thread> nonDaemonThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.isAlive() && !t.isDaemon())
                .collect(Collectors.toSet());
    }

    private static Set<String> names(Set<Thread> threads) {
        return threads.stream().map(Thread::getName).collect(Collectors.toCollection(java.util.TreeSet::new));
    }
}
