package io.meshgate.tls;

import java.nio.file.Path;

/** A trust bundle file that cannot be trusted as a set of roots (empty, unparsable, non-CA, expired). */
public final class TrustBundleException extends TlsMaterialException {

    public TrustBundleException(Path file, String problem) {
        super(file, problem);
    }

    public TrustBundleException(Path file, String problem, Throwable cause) {
        super(file, problem, cause);
    }
}
