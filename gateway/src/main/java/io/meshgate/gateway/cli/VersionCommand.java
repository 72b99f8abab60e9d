package io.meshgate.gateway.cli;

import io.netty.handler.ssl.OpenSsl;
import io.netty.util.Version;
import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code meshgate version}: one line with meshgate's version and what it runs on. */
@Command(name = "version", mixinStandardHelpOptions = true, description = "Prints the version (one line).")
public final class VersionCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().getOut().println(line());
    }

    public static String version() {
        Properties p = new Properties();
        try (InputStream in = VersionCommand.class.getResourceAsStream("/meshgate-version.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException ignored) {
            // fall through to "unknown"
        }
        return p.getProperty("version", "unknown");
    }

    static String line() {
        Version netty = Version.identify().get("netty-transport");
        String ssl = OpenSsl.isAvailable() ? OpenSsl.versionString() : "no native TLS";
        return "meshgate " + version() + " (netty " + (netty == null ? "?" : netty.artifactVersion()) + ", " + ssl
                + ", java " + System.getProperty("java.version") + ")";
    }

    /** Makes {@code --version} on every command print the same line. */
    public static final class Provider implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[] {line()};
        }
    }
}
