package io.meshgate.gateway.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the CLI in-process as a user's shell would, capturing exit code, stdout and stderr. */
final class CliRun {

    record Result(int code, String out, String err) {}

    private CliRun() {}

    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Result(code, out.toString(), err.toString());
    }
}
