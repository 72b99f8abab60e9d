package io.meshgate.gateway.cli;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code meshgate demo}: runs the demo, which lives in its own jar ({@code meshgate-demo.jar}, built
 * from {@code src/demo} by the same {@code mvn -B -DskipTests package}) so that its mock API servers
 * and their Vert.x stay out of the production jar. The demo jar is self-contained and runs in this
 * process in a class loader of its own; every argument goes to it ({@code meshgate demo --help}).
 */
@Command(name = "demo", description = "The whole mesh on one machine: two clusters, one meshgate each, six steps proven "
        + "(meshgate demo --help for its options).")
public final class DemoCommand implements Callable<Integer> {

    /** The demo jar's file name, next to meshgate.jar or where the build leaves it. */
    static final String DEMO_JAR = "meshgate-demo.jar";
    /** Overrides where the demo jar is looked for (a file). */
    static final String DEMO_JAR_PROPERTY = "meshgate.demo.jar";
    private static final String DEMO_MAIN = "io.meshgate.demo.DemoMain";

    @Unmatched
    List<String> args = new ArrayList<>();

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (args.size() == 1 && (args.get(0).equals("-V") || args.get(0).equals("--version"))) {
            spec.commandLine().getOut().println(VersionCommand.line()); // the same line as every command's -V
            return 0;
        }
        List<Path> candidates = candidates();
        Optional<Path> jar = candidates.stream().filter(Files::isRegularFile).findFirst();
        if (jar.isEmpty()) {
            throw new IllegalStateException("the demo is not built: no " + DEMO_JAR + " at " + String.join(" or ",
                    candidates.stream().map(Path::toString).toList()) + "; build it with `mvn -B -DskipTests package` "
                    + "at the repository root (or run ./meshgate demo, which builds it)");
        }
        return run(jar.get(), args.toArray(String[]::new));
    }

    /**
     * Where the demo jar may be: {@code -Dmeshgate.demo.jar}, else next to meshgate.jar, else where
     * the build puts it relative to {@code gateway/target/meshgate.jar}.
     */
    static List<Path> candidates() {
        String explicit = System.getProperty(DEMO_JAR_PROPERTY);
        if (explicit != null) {
            return List.of(Path.of(explicit));
        }
        Optional<Path> self = ownJar();
        if (self.isEmpty()) {
            return List.of(Path.of("src", "demo", "target", DEMO_JAR).toAbsolutePath());
        }
        Path dir = self.get().toAbsolutePath().getParent();
        List<Path> paths = new ArrayList<>();
        paths.add(dir.resolve(DEMO_JAR));
        if (dir.getParent() != null && dir.getParent().getParent() != null) {
            paths.add(dir.getParent().getParent().resolve("src").resolve("demo").resolve("target").resolve(DEMO_JAR).normalize());
        }
        return paths;
    }

    private static Optional<Path> ownJar() {
        try {
            URL location = DemoCommand.class.getProtectionDomain().getCodeSource().getLocation();
            Path path = Path.of(location.toURI());
            return Files.isRegularFile(path) ? Optional.of(path) : Optional.empty();
        } catch (URISyntaxException | SecurityException | NullPointerException e) {
            return Optional.empty();
        }
    }

    /**
     * Runs the demo jar's entry point with a class path of its own (only the JDK shared with this jar).
     * The loader stays open: the process exits right after, and a daemon thread of the demo's
     * libraries winding down may still load a class.
     */
    @SuppressWarnings("resource")
    private static int run(Path jar, String[] args) throws Exception {
        ClassLoader previous = Thread.currentThread().getContextClassLoader();
        URLClassLoader loader = new URLClassLoader("meshgate-demo", new URL[] {jar.toUri().toURL()},
                ClassLoader.getPlatformClassLoader());
        try {
            Thread.currentThread().setContextClassLoader(loader);
            Method execute = loader.loadClass(DEMO_MAIN).getMethod("execute", String[].class);
            return (Integer) execute.invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception cause ? cause : e;
        } finally {
            Thread.currentThread().setContextClassLoader(previous);
        }
    }
}
