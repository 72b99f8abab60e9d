package io.meshgate.demo;

import io.meshgate.gateway.cli.Main;

/**
 * The demo jar's entry point: {@code meshgate demo} (the production jar's command) calls
 * {@link #execute} in a class loader of its own; {@code java -jar meshgate-demo.jar} works too.
 */
public final class DemoMain {

    private DemoMain() {
    }

    public static void main(String[] args) {
        Main.nettyDefaults();
        System.exit(execute(args));
    }

    /** Runs the demo with {@code args} (the options of {@code meshgate demo}) and returns its exit code. */
    public static int execute(String... args) {
        return Main.commandLine(new DemoCommand()).setCommandName("meshgate demo").execute(args);
    }
}
