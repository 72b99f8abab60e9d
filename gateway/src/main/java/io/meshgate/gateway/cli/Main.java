package io.meshgate.gateway.cli;

import io.meshgate.gateway.config.ConfigException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code java -jar meshgate.jar COMMAND}: the CLI the README documents. Exit codes: 0 success,
 * 2 bad usage or configuration (message names the key or file), 1 anything else.
 */
@Command(name = "meshgate", mixinStandardHelpOptions = true, versionProvider = VersionCommand.Provider.class,
        description = "East-west mTLS gateway joining Kubernetes clusters into one service mesh.",
        subcommands = {RunCommand.class, CheckCommand.class, DemoCommand.class, PkiCommand.class, RemoteSecretCommand.class, VersionCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "a command is required (run, version, ...)");
    }

    public static void main(String[] args) {
        nettyDefaults();
        System.exit(execute(args));
    }

    /**
     * Netty settings for a production process, applied before Netty's classes initialise and only
     * where the command line did not set them ({@code -Dio.netty...} wins):
     * <ul>
     *   <li>no sampled leak tracking: it records a stack trace for one buffer in 128, a measurable
     *       share of the relay's CPU; the test suite runs the leak detector at PARANOID instead;</li>
     *   <li>the pooled allocator (per-thread caches): it costs less CPU per relayed message on our
     *       fixed set of event loops than Netty 4.2's adaptive default (docs/performance.md);</li>
     *   <li>no pinned-memory accounting in that allocator: a {@code LongAdder} per chunk, added to at
     *       every buffer's allocation and release, for a figure meshgate never reads (2 % of the
     *       terminating gateway's CPU on small keep-alive requests).</li>
     * </ul>
     */
    public static void nettyDefaults() {
        defaultProperty("io.netty.leakDetection.level", "disabled");
        defaultProperty("io.netty.allocator.type", "pooled");
        defaultProperty("io.netty.trackPinnedMemory", "false");
    }

    private static void defaultProperty(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /** Runs a command line and returns its exit code (tests call this instead of main). */
    public static int execute(String... args) {
        return commandLine().execute(args);
    }

    /**
     * Help text width: wide enough that the option descriptions' file names and SPIFFE IDs fit on
     * their lines (picocli wraps at any line-break opportunity, which includes a '.' or '/' inside
     * {@code key.pem} or {@code spiffe://cluster.local/...}).
     */
    static final int HELP_WIDTH = 120;

    public static CommandLine commandLine() {
        return commandLine(new Main());
    }

    /** A command line for {@code command} that ends a failure as every meshgate command does (exit codes above). */
    public static CommandLine commandLine(Object command) {
        CommandLine cl = new CommandLine(command);
        cl.setUsageHelpWidth(HELP_WIDTH);
        cl.setUsageHelpLongOptionsMaxWidth(30);
        everyVersionFlagPrintsTheVersion(cl);
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            if (ex instanceof ConfigException || ex instanceof UsageException) {
                cmd.getErr().println("meshgate: " + ex.getMessage());
                return EXIT_USAGE;
            }
            cmd.getErr().println("meshgate: " + ex.getMessage());
            if (System.getenv("MESHGATE_DEBUG") != null) {
                ex.printStackTrace(cmd.getErr());
            }
            return EXIT_FAILURE;
        });
        return cl;
    }

    /** Subcommands inherit {@code -V}/{@code --version} from the mixin but not the provider: give them ours. */
    private static void everyVersionFlagPrintsTheVersion(CommandLine cl) {
        if (cl.getCommandSpec().versionProvider() == null && cl.getCommandSpec().version().length == 0) {
            cl.getCommandSpec().versionProvider(new VersionCommand.Provider());
        }
        cl.getSubcommands().values().forEach(Main::everyVersionFlagPrintsTheVersion);
    }

    /** A user mistake found while a command runs (bad argument value, unreadable input): exit 2. */
    public static final class UsageException extends RuntimeException {
        public UsageException(String message) {
            super(message);
        }
    }
}
