package io.meshgate.tls;

import java.nio.file.Path;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The federated trust bundle: the root CAs of every cluster whose workloads may call through
 * this gateway. Immutable; a reload builds a new one.
 */
public final class TrustBundle {

    private final Path file;
    private final List<TrustRoot> roots;
    private final Set<TrustAnchor> anchors;
    private final Instant loadedAt;

    private TrustBundle(Path file, List<TrustRoot> roots, Instant loadedAt) {
        this.file = file;
        this.roots = List.copyOf(roots);
        this.anchors = roots.stream().map(r -> new TrustAnchor(r.certificate(), null)).collect(Collectors.toUnmodifiableSet());
        this.loadedAt = loadedAt;
    }

    /** Loads and validates every root in a PEM file. */
    public static TrustBundle load(Path file) throws TrustBundleException {
        return load(file, Instant.now());
    }

    public static TrustBundle load(Path file, Instant now) throws TrustBundleException {
        List<X509Certificate> certificates;
        try {
            certificates = Pem.readCertificates(file);
        } catch (TlsMaterialException e) {
            throw new TrustBundleException(file, e.problem(), e.getCause());
        }
        return of(file, certificates, now);
    }

    /**
     * A bundle from certificates: each must be a CA certificate valid at {@code now}; exact
     * duplicates are dropped (file order kept). {@code file} names the source in errors.
     */
    public static TrustBundle of(Path file, Collection<X509Certificate> certificates, Instant now) throws TrustBundleException {
        if (certificates.isEmpty()) {
            throw new TrustBundleException(file, "contains no root certificate");
        }
        Map<String, TrustRoot> unique = new LinkedHashMap<>();
        int index = 0;
        for (X509Certificate certificate : certificates) {
            index++;
            TrustRoot root = TrustRoot.of(certificate);
            String which = "certificate #" + index + " (" + root.subject() + ")";
            if (certificate.getBasicConstraints() < 0) {
                throw new TrustBundleException(file, which + " is not a CA certificate (basicConstraints CA is not true)");
            }
            if (!certificate.getSubjectX500Principal().equals(certificate.getIssuerX500Principal())) {
                throw new TrustBundleException(file, which + " is not a root (issued by '"
                        + certificate.getIssuerX500Principal().getName() + "'): an intermediate cannot anchor trust; "
                        + "put each cluster's root-cert.pem in the bundle");
            }
            if (certificate.getNotAfter().toInstant().isBefore(now)) {
                throw new TrustBundleException(file, which + " expired at " + root.notAfter());
            }
            if (certificate.getNotBefore().toInstant().isAfter(now)) {
                throw new TrustBundleException(file, which + " is not valid before " + certificate.getNotBefore().toInstant());
            }
            unique.putIfAbsent(root.sha256(), root);
        }
        return new TrustBundle(file, new ArrayList<>(unique.values()), now);
    }

    /** The file this bundle was read from (null when built from certificates in memory). */
    public Path file() {
        return file;
    }

    public List<TrustRoot> roots() {
        return roots;
    }

    /** The roots as PKIX trust anchors, built once per bundle for the per-handshake check. */
    public Set<TrustAnchor> anchors() {
        return anchors;
    }

    public List<X509Certificate> certificates() {
        return roots.stream().map(TrustRoot::certificate).toList();
    }

    public Instant loadedAt() {
        return loadedAt;
    }

    /** PEM text of every root, as {@code pki bundle} writes it. */
    public String toPem() {
        return Pem.encode(certificates());
    }

    @Override
    public String toString() {
        return "TrustBundle" + roots.stream().map(TrustRoot::sha256).toList();
    }
}
