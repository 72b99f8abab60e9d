package io.meshgate.tls;

import java.nio.file.Path;

/**
 * Key material (trust bundle, certificate chain, private key) that cannot be used; the message
 * names the file and the problem, because an operator reads it in a log or on stderr.
 */
public class TlsMaterialException extends Exception {

    private final Path file;
    private final String problem;

    public TlsMaterialException(Path file, String problem) {
        this(file, problem, null);
    }

    public TlsMaterialException(Path file, String problem, Throwable cause) {
        super(file == null ? problem : file + ": " + problem, cause);
        this.file = file;
        this.problem = problem;
    }

    /** The file at fault, or null when the problem spans several. */
    public Path file() {
        return file;
    }

    /** What is wrong, without the file name. */
    public String problem() {
        return problem;
    }
}
