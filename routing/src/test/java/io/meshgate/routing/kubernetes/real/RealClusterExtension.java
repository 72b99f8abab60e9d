package io.meshgate.routing.kubernetes.real;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.LifecycleMethodExecutionExceptionHandler;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;
import org.opentest4j.TestAbortedException;

/**
 * Starts the control planes of a {@link RealCluster} class through {@code deploy/test/control-plane}
 * and stops them (also on JVM exit) when the class is done.
 *
 * <p>Plane {@code i} is {@code cluster-a}, {@code cluster-b}, … on {@code 127.0.(100+i).1} with pods
 * in {@code 10.(244+i).0.0/24}, its directory under {@code target/real-clusters/}. The first start
 * on a machine builds the binaries (tens of minutes on 2 cores, bounded by system property
 * {@code meshgate.realCluster.buildTimeout}, default 60m); later ones take seconds.
 *
 * <p>A test or set-up method of the class that fails gets each plane's state at that moment added
 * to its failure ({@link ControlPlane#describe()}: nodes, pods not Ready, events, component log
 * tails), so the surefire report alone tells what the plane was doing.
 */
public final class RealClusterExtension implements BeforeAllCallback, ParameterResolver, TestExecutionExceptionHandler,
        LifecycleMethodExecutionExceptionHandler {

    /** Set (to anything but empty) where a skipped real-cluster test would hide a gap, as in CI. */
    public static final String REQUIRE_ENV = "MESHGATE_REQUIRE_REAL_CLUSTER";

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(RealClusterExtension.class);
    private static final Duration BUILD_TIMEOUT = Duration.parse("PT" + System.getProperty("meshgate.realCluster.buildTimeout", "60m").toUpperCase());
    private static final Duration UP_TIMEOUT = Duration.ofMinutes(5);
    /** Started planes by test class, for classes whose set-up cannot take parameters (PER_CLASS bases). */
    private static final Map<Class<?>, ControlPlanes> STARTED = new ConcurrentHashMap<>();

    /** The running planes of {@code testClass} (after this extension's beforeAll). */
    public static ControlPlanes planesOf(Class<?> testClass) {
        ControlPlanes planes = STARTED.get(testClass);
        if (planes == null) {
            throw new IllegalStateException("no control planes for " + testClass.getName() + ": annotate it @RealCluster");
        }
        return planes;
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        RealCluster spec = context.getRequiredTestClass().getAnnotation(RealCluster.class);
        int count = spec == null ? 1 : spec.count();
        if (count < 1 || count > 2) {
            throw new IllegalArgumentException("@RealCluster(count) must be 1 or 2, not " + count);
        }
        missingPrerequisite().ifPresent(reason -> {
            String env = System.getenv(REQUIRE_ENV);
            if (env != null && !env.isEmpty()) {
                throw new IllegalStateException(reason + " (and " + REQUIRE_ENV + " is set, so this is a failure, not a skip)");
            }
            Assumptions.abort("real Kubernetes control planes skipped: " + reason);
        });
        Path script = script();
        build(script);
        Path root = Path.of(System.getProperty("meshgate.realCluster.dir", "target/real-clusters")).toAbsolutePath();
        List<ControlPlane> planes = new ArrayList<>();
        Planes started = new Planes(planes);
        // Registered before the first start: a failing start of plane b still stops plane a.
        context.getStore(NS).put(Planes.class, started);
        for (int i = 0; i < count; i++) {
            String name = "cluster-" + (char) ('a' + i);
            Path dir = root.resolve(context.getRequiredTestClass().getSimpleName() + "-" + name);
            started.dirs.add(dir);
            List<String> cmd = new ArrayList<>(List.of(script.toString(), "up", dir.toString(), "--name", name,
                    "--address", "127.0." + (100 + i) + ".1", "--pod-cidr", "10." + (244 + i) + ".0.0/24"));
            if (spec != null && spec.clusterTrustBundles()) {
                cmd.add("--cluster-trust-bundles");
            }
            Commands.Result first = Commands.run(cmd, UP_TIMEOUT, null);
            if (first.exitCode() != 0) {
                // One retry after a clean `down`: a component that dies while starting (seen once: the
                // scheduler, with an empty log) must not fail a whole CI run; a second failure does.
                System.err.println("control plane " + name + " did not start, retrying once: " + first.stderr());
                Commands.run(List.of(script.toString(), "down", dir.toString()), UP_TIMEOUT, null);
                Commands.run(cmd, UP_TIMEOUT, null).orThrow(cmd);
            }
            planes.add(new ControlPlane(script, dir));
        }
        STARTED.put(context.getRequiredTestClass(), new ControlPlanes(planes));
        started.testClass = context.getRequiredTestClass();
    }

    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        throw withPlaneState(context, failure);
    }

    @Override
    public void handleBeforeAllMethodExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        throw withPlaneState(context, failure);
    }

    @Override
    public void handleBeforeEachMethodExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        throw withPlaneState(context, failure);
    }

    @Override
    public void handleAfterEachMethodExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        throw withPlaneState(context, failure);
    }

    @Override
    public void handleAfterAllMethodExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
        throw withPlaneState(context, failure);
    }

    /** {@code failure} with the state of each running plane of the class added as a suppressed {@link PlaneState}. */
    private static Throwable withPlaneState(ExtensionContext context, Throwable failure) {
        ControlPlanes planes = STARTED.get(context.getRequiredTestClass());
        if (planes == null || failure instanceof TestAbortedException) {
            return failure;
        }
        // A @Timeout interrupts the test thread: clear the flag while kubectl runs, then restore it.
        boolean interrupted = Thread.interrupted();
        try {
            for (ControlPlane plane : planes.all()) {
                failure.addSuppressed(new PlaneState(plane.describe()));
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        return failure;
    }

    /** A plane's state when a test failed: its message is the report; it has no stack trace of its own. */
    static final class PlaneState extends RuntimeException {
        private static final long serialVersionUID = 1L;

        PlaneState(String state) {
            super(state, null, false, false);
        }
    }

    private static void build(Path script) {
        List<String> cmd = List.of(script.resolveSibling("build-k8s").toString());
        Commands.Result r = Commands.run(cmd, BUILD_TIMEOUT, null).orThrow(cmd);
        if (!r.stderr().isBlank()) {
            System.out.print(r.stderr()); // the first build says how long it took
        }
    }

    /** Why real control planes cannot run here, if they cannot. */
    static Optional<String> missingPrerequisite() {
        if (!onPath("go")) {
            return Optional.of("no `go` on PATH (Go >= 1.26 builds etcd, kube-apiserver and kwok from source modules)");
        }
        String uid = Commands.run(List.of("id", "-u"), Duration.ofSeconds(10), null).stdout().trim();
        if (!"0".equals(uid)) {
            return Optional.of("not root (uid " + uid + "; pods need network namespaces and veths)");
        }
        return Optional.empty();
    }

    private static boolean onPath(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, command))) {
                return true;
            }
        }
        return false;
    }

    /** {@code deploy/test/control-plane} from system property {@code meshgate.controlPlane}, else above the working directory. */
    static Path script() {
        String configured = System.getProperty("meshgate.controlPlane");
        if (configured != null) {
            return Path.of(configured).toAbsolutePath().normalize();
        }
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path candidate = d.resolve("deploy/test/control-plane");
            if (Files.isExecutable(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("deploy/test/control-plane not found above " + Path.of("").toAbsolutePath());
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        Class<?> type = parameter.getParameter().getType();
        return type == ControlPlane.class || type == ControlPlanes.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        ControlPlanes all = planesOf(context.getRequiredTestClass());
        return parameter.getParameter().getType() == ControlPlane.class ? all.get(0) : all;
    }

    /** The planes of one class; closing the store stops them, as does JVM exit if that never happens. */
    private static final class Planes implements ExtensionContext.Store.CloseableResource {
        final List<ControlPlane> planes;
        final List<Path> dirs = new ArrayList<>();
        Class<?> testClass;
        private final Thread onExit;

        Planes(List<ControlPlane> planes) {
            this.planes = planes;
            this.onExit = new Thread(this::downAll, "real-cluster-down");
            Runtime.getRuntime().addShutdownHook(onExit);
        }

        @Override
        public void close() {
            try {
                Runtime.getRuntime().removeShutdownHook(onExit);
            } catch (IllegalStateException e) {
                // already exiting: the hook runs
            }
            downAll();
        }

        private synchronized void downAll() {
            if (testClass != null) {
                STARTED.remove(testClass);
            }
            for (ControlPlane p : planes) {
                p.close();
            }
            Path script = script();
            for (Path dir : dirs) {
                ControlPlane.down(script, dir); // idempotent; covers a plane whose `up` failed half-way
            }
            planes.clear();
            dirs.clear();
        }
    }
}
