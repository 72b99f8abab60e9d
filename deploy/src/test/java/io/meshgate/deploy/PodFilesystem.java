package io.meshgate.deploy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Collection;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The gateway pod's mounts laid out under a temporary folder, written the way the kubelet writes
 * Secret and ConfigMap volumes: files are symlinks through {@code ..data}, and an update swaps
 * that one symlink atomically (what the gateway must notice for hot rotation).
 */
final class PodFilesystem {

    private final Path root;
    private final AtomicInteger generation = new AtomicInteger();

    PodFilesystem(Path root) {
        this.root = root;
    }

    /** Where an absolute path of the pod (e.g. {@code /etc/meshgate/trust/bundle.pem}) lives here. */
    Path path(String podPath) {
        if (!podPath.startsWith("/")) {
            throw new IllegalArgumentException("not an absolute pod path: " + podPath);
        }
        return root.resolve(podPath.substring(1));
    }

    /** Rewrites, in one pass, every pod path in {@code text} that lies under one of {@code mountPaths}. */
    String rewrite(String text, Collection<String> mountPaths) {
        String alternatives = mountPaths.stream()
                .sorted(Comparator.comparingInt(String::length).reversed())
                .map(Pattern::quote)
                .collect(Collectors.joining("|"));
        Matcher m = Pattern.compile("(?<![\\w./-])(" + alternatives + ")(?=/|\\s|\"|'|$)").matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(out, Matcher.quoteReplacement(path(m.group(1)).toString()));
        }
        m.appendTail(out);
        return out.toString();
    }

    void emptyDir(String mountPath) throws IOException {
        Files.createDirectories(path(mountPath));
    }

    /**
     * Writes (or updates) a volume: the key files go to a fresh {@code ..<generation>} folder,
     * {@code ..data} is re-pointed to it in one rename, and the previous folder is removed.
     */
    void writeVolume(String mountPath, Map<String, byte[]> files) throws IOException {
        Path dir = Files.createDirectories(path(mountPath));
        Path previous = Files.isSymbolicLink(dir.resolve("..data")) ? dir.resolve(Files.readSymbolicLink(dir.resolve("..data"))) : null;

        Path timestamped = dir.resolve("..gen_" + generation.incrementAndGet());
        Files.createDirectory(timestamped);
        for (Map.Entry<String, byte[]> file : files.entrySet()) {
            Path written = Files.write(timestamped.resolve(file.getKey()), file.getValue());
            Files.setPosixFilePermissions(written, PosixFilePermissions.fromString("r--r-----"));
        }
        Path tmpLink = dir.resolve("..data_tmp");
        Files.deleteIfExists(tmpLink);
        Files.createSymbolicLink(tmpLink, timestamped.getFileName());
        Files.move(tmpLink, dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);

        for (String key : files.keySet()) {
            Path link = dir.resolve(key);
            if (!Files.isSymbolicLink(link)) {
                Files.createSymbolicLink(link, Path.of("..data", key));
            }
        }
        if (previous != null) {
            try (var old = Files.list(previous)) {
                for (Path f : old.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(previous);
        }
    }
}
