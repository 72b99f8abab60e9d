package io.meshgate.tls;

import io.meshgate.tls.PeerRefusedException.Reason;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Date;
import java.util.List;

/**
 * A certification path from a peer's leaf to a root of the trust bundle, built the way
 * OpenSSL/BoringSSL and Envoy build it: the certificates the peer sent after its leaf are an
 * unordered pool (duplicates, extra or unrelated certificates and an appended root are fine), and
 * each step picks an issuer by name whose key verifies the signature, a bundle root first. When no
 * path exists, the refusal says where it broke: a chain that ends at a self-signed certificate
 * outside the bundle, or at an intermediate whose issuer is unknown, is {@code untrusted_root}; a
 * leaf whose issuer was not sent and is no bundle root is {@code missing_intermediate}.
 *
 * @param certificates leaf first, then the intermediates in issuing order; the root excluded
 * @param root the bundle root the path ends at
 */
record CertificationPath(List<X509Certificate> certificates, X509Certificate root) {

    /** Longest path followed; deeper chains are not built (OpenSSL's default verify depth is 100, Envoy's 100; meshes use 2-3). */
    static final int MAX_DEPTH = 8;

    CertificationPath {
        certificates = List.copyOf(certificates);
    }

    /** Builds a path for {@code presented[0]} from {@code presented} to one of {@code roots}, valid or not at {@code now}. */
    static CertificationPath build(X509Certificate[] presented, List<X509Certificate> roots, Date now) throws PeerRefusedException {
        X509Certificate leaf = presented[0];
        List<X509Certificate> pool = new ArrayList<>();
        for (int i = 1; i < presented.length; i++) {
            X509Certificate c = presented[i];
            if (!c.equals(leaf) && !pool.contains(c) && !roots.contains(c)) {
                pool.add(c);
            }
        }
        // Among same-named candidates, one valid now first: a renewed intermediate sent next to its predecessor.
        pool.sort(Comparator.comparing(c -> !validAt(c, now)));
        Search search = new Search(pool, roots, now);
        List<X509Certificate> path = new ArrayList<>(List.of(leaf));
        X509Certificate root = search.extend(path);
        if (root != null) {
            return new CertificationPath(search.found, root);
        }
        throw search.refusal();
    }

    /** Every certificate of the path, the root last. */
    List<X509Certificate> withRoot() {
        List<X509Certificate> all = new ArrayList<>(certificates);
        all.add(root);
        return all;
    }

    private static boolean validAt(X509Certificate c, Date now) {
        return !now.before(c.getNotBefore()) && !now.after(c.getNotAfter());
    }

    private static boolean issued(X509Certificate issuer, X509Certificate subject) {
        if (!issuer.getSubjectX500Principal().equals(subject.getIssuerX500Principal())) {
            return false;
        }
        try {
            subject.verify(issuer.getPublicKey());
            return true;
        } catch (GeneralSecurityException | RuntimeException e) {
            return false;
        }
    }

    private static boolean selfSigned(X509Certificate c) {
        return issued(c, c);
    }

    private static String name(X509Certificate c) {
        return "'" + c.getSubjectX500Principal().getName() + "'";
    }

    /** Depth-first over the pool; remembers the deepest dead end to explain a failure. */
    private static final class Search {
        private final List<X509Certificate> pool;
        private final List<X509Certificate> roots;
        private final Date now;
        private List<X509Certificate> found;
        private List<X509Certificate> deadEnd = List.of();
        private X509Certificate sameNamedRoot;

        Search(List<X509Certificate> pool, List<X509Certificate> roots, Date now) {
            this.pool = pool;
            this.roots = roots;
            this.now = now;
        }

        X509Certificate extend(List<X509Certificate> path) {
            X509Certificate top = path.get(path.size() - 1);
            X509Certificate sameNamed = null;
            for (X509Certificate root : roots) {
                if (issued(root, top)) {
                    found = List.copyOf(path);
                    return root;
                }
                if (root.getSubjectX500Principal().equals(top.getIssuerX500Principal())) {
                    sameNamed = root;
                }
            }
            if (path.size() < MAX_DEPTH) {
                for (X509Certificate candidate : pool) {
                    if (!path.contains(candidate) && candidate.getBasicConstraints() >= 0 && issued(candidate, top)) {
                        path.add(candidate);
                        X509Certificate root = extend(path);
                        if (root != null) {
                            return root;
                        }
                        path.remove(path.size() - 1);
                    }
                }
            }
            if (path.size() > deadEnd.size()) {
                deadEnd = List.copyOf(path);
                sameNamedRoot = sameNamed;
            }
            return null;
        }

        PeerRefusedException refusal() {
            X509Certificate top = deadEnd.get(deadEnd.size() - 1);
            String issuer = "'" + top.getIssuerX500Principal().getName() + "'";
            if (sameNamedRoot != null) {
                return new PeerRefusedException(Reason.UNTRUSTED_ROOT, name(top) + " names issuer " + issuer
                        + " but the bundle root of that name (sha256 " + Fingerprint.sha256(sameNamedRoot)
                        + ") did not sign it: it chains to another root of that name, which is not in the trust bundle");
            }
            if (deadEnd.size() > 1 && selfSigned(top)) {
                return new PeerRefusedException(Reason.UNTRUSTED_ROOT, "certificate chain ends at root " + name(top)
                        + " (sha256 " + Fingerprint.sha256(top) + "), which is not a root of the trust bundle");
            }
            if (deadEnd.size() > 1) {
                return new PeerRefusedException(Reason.UNTRUSTED_ROOT, "certificate chain does not lead to a root of the"
                        + " trust bundle: intermediate " + name(top) + " was issued by " + issuer + ", which is not in it");
            }
            if (selfSigned(top)) {
                return new PeerRefusedException(Reason.UNTRUSTED_ROOT, "leaf " + name(top) + " is self-signed and not in the trust bundle");
            }
            return new PeerRefusedException(Reason.MISSING_INTERMEDIATE, "missing intermediate: the issuer " + issuer
                    + " of leaf " + name(top) + " was not sent" + (pool.isEmpty() ? " (the chain holds only the leaf)"
                    : " (none of the " + pool.size() + " other certificate(s) sent issued it)")
                    + " and is not a root of the trust bundle");
        }
    }

    @Override
    public String toString() {
        return Arrays.toString(withRoot().stream().map(CertificationPath::name).toArray());
    }
}
