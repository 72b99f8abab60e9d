package io.meshgate.e2e.real;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The real protocol peers the HTTP/2 tests drive: grpc-go (built from {@code test/go/grpcpeer} with
 * the machine's Go, cached by a hash of its sources) and Node's {@code http2} module. A peer whose
 * tool is missing skips the test on a developer machine; under CI (or with
 * {@code MESHGATE_REQUIRE_REAL_PEERS=1}) it fails it, so a CI run never passes without them.
 */
final class RealPeers {

    static final String REQUIRE_ENV = "MESHGATE_REQUIRE_REAL_PEERS";
    static final Path GRPC_SOURCES = Path.of("test/go/grpcpeer");
    static final Path NODE_CLIENT = Path.of("test/node/h2peer.js").toAbsolutePath();
    static final Path GRPC_JS_CLIENT = Path.of("test/node/grpcjs-peer.js").toAbsolutePath();
    /** The @grpc/grpc-js release the tests install (npm registry), pinned so the cache key is stable. */
    static final String GRPC_JS_VERSION = "1.14.7";
    private static final long NPM_SECONDS = 180;
    /** Module download and build on a fresh 2-core machine take about a minute; cached: instant. */
    private static final long BUILD_SECONDS = 240;
    private static Path grpcPeer;
    private static Path grpcJs;

    private RealPeers() {
    }

    static boolean required() {
        return System.getenv("CI") != null || "1".equals(System.getenv(REQUIRE_ENV));
    }

    /** Skips (developer machine) or fails (CI) when {@code tool} is not on the PATH. */
    static void need(String tool) {
        boolean present = Stream.of(System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator))
                .anyMatch(d -> !d.isEmpty() && Files.isExecutable(Path.of(d, tool)));
        if (!present) {
            assertThat(required()).as("%s is not on the PATH; the real-peer tests must run under CI or %s=1", tool, REQUIRE_ENV)
                    .isFalse();
            assumeTrue(false, tool + " is not installed: real-peer test skipped (set " + REQUIRE_ENV + "=1 to fail instead)");
        }
    }

    /** The grpcpeer binary, built once per source hash into {@code ~/.cache/meshgate/grpcpeer/HASH/}. */
    static synchronized Path grpcPeer() {
        need("go");
        if (grpcPeer != null) {
            return grpcPeer;
        }
        try {
            Path cached = Path.of(System.getProperty("user.home"), ".cache", "meshgate", "grpcpeer", sourceHash(), "grpcpeer");
            if (!Files.isExecutable(cached)) {
                Files.createDirectories(cached.getParent());
                Path tmp = Files.createTempFile(cached.getParent(), "build", ".tmp");
                Path log = Files.createTempFile("grpcpeer-build", ".log");
                Process go = new ProcessBuilder("go", "build", "-mod=readonly", "-buildvcs=false", "-o", tmp.toString(), ".")
                        .directory(GRPC_SOURCES.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                boolean ended = go.waitFor(BUILD_SECONDS, TimeUnit.SECONDS);
                if (!ended) {
                    go.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
                assertThat(ended && go.exitValue() == 0)
                        .as("go build of %s (within %d s) failed:\n%s", GRPC_SOURCES, BUILD_SECONDS, Files.readString(log)).isTrue();
                Files.move(tmp, cached, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            }
            grpcPeer = cached;
            return cached;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /**
     * A directory whose {@code node_modules} holds @grpc/grpc-js, installed once from the npm registry
     * into {@code ~/.cache/meshgate/grpc-js/VERSION/}. A failed install skips the test on a developer
     * machine (with npm's output as the reason) and fails it under CI.
     */
    static synchronized Path grpcJs() {
        need("node");
        need("npm");
        if (grpcJs != null) {
            return grpcJs;
        }
        try {
            Path dir = Path.of(System.getProperty("user.home"), ".cache", "meshgate", "grpc-js", GRPC_JS_VERSION);
            if (!Files.exists(dir.resolve("node_modules/@grpc/grpc-js/package.json"))) {
                Files.createDirectories(dir.getParent());
                Path tmp = Files.createTempDirectory(dir.getParent(), "install");
                Path log = Files.createTempFile("grpc-js-install", ".log");
                Process npm = new ProcessBuilder("npm", "install", "--no-audit", "--no-fund", "--no-save", "--prefix", tmp.toString(),
                        "@grpc/grpc-js@" + GRPC_JS_VERSION).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                boolean ended = npm.waitFor(NPM_SECONDS, TimeUnit.SECONDS);
                if (!ended) {
                    npm.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
                if (!ended || npm.exitValue() != 0) {
                    String why = "npm install @grpc/grpc-js@" + GRPC_JS_VERSION + " (within " + NPM_SECONDS + " s) failed:\n"
                            + Files.readString(log);
                    assertThat(required()).as(why).isFalse();
                    assumeTrue(false, why);
                }
                try {
                    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException raced) {
                    // another run installed it meanwhile: theirs is as good
                }
            }
            grpcJs = dir;
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String sourceHash() throws IOException {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (String f : List.of("go.mod", "go.sum", "main.go")) {
                sha.update(f.getBytes(StandardCharsets.UTF_8));
                sha.update(Files.readAllBytes(GRPC_SOURCES.resolve(f)));
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
