package io.meshgate.tls.pki;

import io.meshgate.tls.Pem;
import io.meshgate.tls.TlsMaterialException;
import io.meshgate.tls.TrustBundle;
import io.meshgate.tls.TrustBundleException;
import java.io.IOException;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds the federated trust bundle ({@code pki bundle}) from clusters' root files: every
 * certificate must be a self-signed CA, not expired; duplicates are dropped.
 */
public final class FederatedBundle {

    private FederatedBundle() {}

    public static TrustBundle merge(List<Path> rootFiles, Path out, Instant now) throws PkiException {
        if (rootFiles.isEmpty()) {
            throw new PkiException("name at least one root certificate file");
        }
        List<X509Certificate> all = new ArrayList<>();
        for (Path file : rootFiles) {
            try {
                TrustBundle one = TrustBundle.load(file, now);
                for (X509Certificate c : one.certificates()) {
                    if (!c.getSubjectX500Principal().equals(c.getIssuerX500Principal())) {
                        throw new PkiException(file + ": '" + c.getSubjectX500Principal().getName()
                                + "' is not a root (issued by '" + c.getIssuerX500Principal().getName()
                                + "'); pass each cluster's root-cert.pem");
                    }
                }
                all.addAll(one.certificates());
            } catch (TlsMaterialException e) {
                throw new PkiException(e.getMessage(), e);
            }
        }
        try {
            return TrustBundle.of(out, all, now);
        } catch (TrustBundleException e) {
            throw new PkiException(e.getMessage(), e);
        }
    }

    /** Merges and writes {@code out} in one rename. */
    public static TrustBundle write(List<Path> rootFiles, Path out, Instant now) throws PkiException, IOException {
        TrustBundle bundle = merge(rootFiles, out, now);
        Pem.writeAtomically(out, bundle.toPem(), false);
        return bundle;
    }
}
