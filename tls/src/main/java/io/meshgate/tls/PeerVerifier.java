package io.meshgate.tls;

import io.meshgate.tls.PeerRefusedException.Reason;
import java.security.GeneralSecurityException;
import java.security.cert.CertPath;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.PKIXReason;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Verifies a peer's certificate chain against the current trust bundle and turns it into the
 * peer's SPIFFE ID: a path built from the presented certificates to a root
 * ({@link CertificationPath}), checked by PKIX (validity dates, basic constraints, signatures), the
 * role's extended key usage, exactly one SPIFFE ID, an allowed trust domain and an allowed identity
 * ({@link AllowedIdentities}). Thread-safe and
 * lock-free; it reads the bundle through the supplier on every call so rotation needs no rebuild.
 */
public final class PeerVerifier {

    private final Supplier<TrustBundle> bundle;
    private final Set<String> allowedTrustDomains;
    private final AllowedIdentities allowedIdentities;
    private final PeerRole role;
    private final Clock clock;

    /**
     * @param allowedTrustDomains trust domains whose peers are accepted; empty accepts any whose
     *     chain leads to a root of the bundle
     */
    public PeerVerifier(Supplier<TrustBundle> bundle, Set<String> allowedTrustDomains, PeerRole role) {
        this(bundle, allowedTrustDomains, role, Clock.systemUTC());
    }

    public PeerVerifier(Supplier<TrustBundle> bundle, Set<String> allowedTrustDomains, PeerRole role, Clock clock) {
        this(bundle, allowedTrustDomains, AllowedIdentities.ANY, role, clock);
    }

    /**
     * @param allowedIdentities SPIFFE IDs (exact or prefix) whose peers are accepted, checked after
     *     the trust domain; {@link AllowedIdentities#ANY} accepts every identity
     */
    public PeerVerifier(Supplier<TrustBundle> bundle, Set<String> allowedTrustDomains, AllowedIdentities allowedIdentities,
                        PeerRole role) {
        this(bundle, allowedTrustDomains, allowedIdentities, role, Clock.systemUTC());
    }

    public PeerVerifier(Supplier<TrustBundle> bundle, Set<String> allowedTrustDomains, AllowedIdentities allowedIdentities,
                        PeerRole role, Clock clock) {
        this.bundle = bundle;
        this.allowedTrustDomains = Set.copyOf(allowedTrustDomains);
        this.allowedIdentities = allowedIdentities;
        this.role = role;
        this.clock = clock;
    }

    public PeerRole role() {
        return role;
    }

    public Set<String> allowedTrustDomains() {
        return allowedTrustDomains;
    }

    public AllowedIdentities allowedIdentities() {
        return allowedIdentities;
    }

    /**
     * The peer's SPIFFE ID, or a refusal that says why. {@code chain} is as the peer sent it: its
     * leaf first, then any other certificates in any order ({@link CertificationPath}).
     */
    public SpiffeId verify(X509Certificate[] chain) throws PeerRefusedException {
        if (chain == null || chain.length == 0) {
            throw new PeerRefusedException(role == PeerRole.CLIENT ? Reason.NO_CLIENT_CERTIFICATE : Reason.INVALID_CHAIN,
                    "the " + role.name().toLowerCase() + " sent no certificate");
        }
        try {
            return verifyPresented(chain);
        } catch (PeerRefusedException e) {
            throw e.peerSubject(chain[0].getSubjectX500Principal().getName(javax.security.auth.x500.X500Principal.RFC2253));
        }
    }

    private SpiffeId verifyPresented(X509Certificate[] chain) throws PeerRefusedException {
        X509Certificate leaf = chain[0];
        if (leaf.getBasicConstraints() >= 0) {
            throw new PeerRefusedException(Reason.INVALID_CHAIN, describe(0, leaf) + " is a CA certificate, not a workload leaf");
        }
        Date now = Date.from(clock.instant());
        TrustBundle roots = bundle.get();
        if (roots.roots().isEmpty()) {
            throw new PeerRefusedException(Reason.UNTRUSTED_ROOT, "the trust bundle is empty");
        }
        CertificationPath path = CertificationPath.build(chain, roots.certificates(), now);
        // Dates before the PKIX checks: operators need "expired" rather than a generic path failure.
        List<X509Certificate> all = path.withRoot();
        for (int i = 0; i < all.size(); i++) {
            X509Certificate c = all.get(i);
            String which = i == all.size() - 1 ? "root '" + c.getSubjectX500Principal().getName() + "'" : describe(i, c);
            try {
                c.checkValidity(now);
            } catch (CertificateExpiredException e) {
                throw new PeerRefusedException(Reason.EXPIRED, which + " expired at " + c.getNotAfter().toInstant(), e);
            } catch (CertificateNotYetValidException e) {
                throw new PeerRefusedException(Reason.NOT_YET_VALID, which + " is not valid before " + c.getNotBefore().toInstant(), e);
            }
        }
        validatePath(path, now);
        try {
            if (!role.allows(leaf.getExtendedKeyUsage())) {
                throw new PeerRefusedException(Reason.WRONG_KEY_USAGE,
                        describe(0, leaf) + " does not allow " + role.keyPurposeName() + " (extended key usage)");
            }
        } catch (CertificateParsingException e) {
            throw new PeerRefusedException(Reason.INVALID_CHAIN, describe(0, leaf) + ": bad extendedKeyUsage", e);
        }
        SpiffeId id = SpiffeId.of(leaf);
        if (!allowedTrustDomains.isEmpty() && !allowedTrustDomains.contains(id.trustDomain())) {
            throw new PeerRefusedException(Reason.TRUST_DOMAIN_NOT_ALLOWED,
                    "trust domain of " + id + " is not in allowedTrustDomains " + allowedTrustDomains);
        }
        if (!allowedIdentities.allows(id)) {
            throw new PeerRefusedException(Reason.IDENTITY_NOT_ALLOWED, id + " is not in allowedIdentities " + allowedIdentities);
        }
        return id;
    }

    /** RFC 5280 checks on the built path (signatures, basic constraints, path length, key usage, name constraints). */
    private static void validatePath(CertificationPath path, Date now) throws PeerRefusedException {
        try {
            CertPath certPath = CertificateFactory.getInstance("X.509").generateCertPath(path.certificates());
            PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(path.root(), null)));
            params.setRevocationEnabled(false);
            params.setDate(now);
            CertPathValidator.getInstance("PKIX").validate(certPath, params);
        } catch (CertPathValidatorException e) {
            throw refusal(e);
        } catch (GeneralSecurityException e) {
            throw new PeerRefusedException(Reason.INVALID_CHAIN, "certificate chain cannot be checked: " + e.getMessage(), e);
        }
    }

    private static PeerRefusedException refusal(CertPathValidatorException e) {
        CertPathValidatorException.Reason why = e.getReason();
        String where = e.getIndex() >= 0 && e.getCertPath() != null && e.getIndex() < e.getCertPath().getCertificates().size()
                ? describe(e.getIndex(), (X509Certificate) e.getCertPath().getCertificates().get(e.getIndex())) + ": "
                : "";
        if (why == PKIXReason.NO_TRUST_ANCHOR) {
            return new PeerRefusedException(Reason.UNTRUSTED_ROOT, "certificate chain does not lead to a root of the trust bundle", e);
        }
        if (why == CertPathValidatorException.BasicReason.EXPIRED) {
            return new PeerRefusedException(Reason.EXPIRED, where + e.getMessage(), e);
        }
        if (why == CertPathValidatorException.BasicReason.NOT_YET_VALID) {
            return new PeerRefusedException(Reason.NOT_YET_VALID, where + e.getMessage(), e);
        }
        return new PeerRefusedException(Reason.INVALID_CHAIN, where + e.getMessage(), e);
    }

    private static String describe(int index, X509Certificate certificate) {
        return (index == 0 ? "leaf" : "chain certificate #" + index) + " '" + certificate.getSubjectX500Principal().getName() + "'";
    }
}
