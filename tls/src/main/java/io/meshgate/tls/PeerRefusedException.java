package io.meshgate.tls;

import java.security.cert.CertificateException;
import java.util.Optional;
import java.util.Set;

/**
 * A peer certificate (or its absence) refused by meshgate's own verification: the gateway counts
 * these as {@code denied}, every other handshake failure as {@code tls_error}.
 */
public final class PeerRefusedException extends CertificateException {

    /** Why a peer was refused. */
    public enum Reason {
        /** The client sent no certificate although the listener requires one. */
        NO_CLIENT_CERTIFICATE,
        /** The chain does not lead to a root of the current trust bundle. */
        UNTRUSTED_ROOT,
        /** A certificate of the chain is past its notAfter. */
        EXPIRED,
        /** A certificate of the chain is before its notBefore. */
        NOT_YET_VALID,
        /** The leaf's extended key usage does not allow the role (clientAuth / serverAuth). */
        WRONG_KEY_USAGE,
        /** The chain is malformed: bad signature, a CA leaf, path length, constraints... */
        INVALID_CHAIN,
        /** The leaf carries no spiffe:// URI SAN. */
        NO_SPIFFE_ID,
        /** The leaf carries more than one spiffe:// URI SAN. */
        MULTIPLE_SPIFFE_IDS,
        /** The leaf's spiffe:// URI SAN breaks the SPIFFE ID rules. */
        MALFORMED_SPIFFE_ID,
        /** The SPIFFE ID's trust domain is not in {@code tls.allowedTrustDomains}. */
        TRUST_DOMAIN_NOT_ALLOWED
    }

    /**
     * What BoringSSL says when a client sends no certificate to a listener that requires one: it
     * refuses before any trust manager runs, so only its error text carries the fact.
     */
    private static final Set<String> NO_CERTIFICATE_ERRORS =
            Set.of("PEER_DID_NOT_RETURN_A_CERTIFICATE", "CERTIFICATE_REQUIRED");

    private final Reason reason;

    public PeerRefusedException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public PeerRefusedException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }

    /** The refusal in a handshake failure's cause (and suppressed) chain, if meshgate refused the peer. */
    public static Optional<PeerRefusedException> find(Throwable failure) {
        return find(failure, 0);
    }

    private static Optional<PeerRefusedException> find(Throwable t, int depth) {
        if (t == null || depth > 16) {
            return Optional.empty();
        }
        if (t instanceof PeerRefusedException refused) {
            return Optional.of(refused);
        }
        for (Throwable s : t.getSuppressed()) {
            Optional<PeerRefusedException> found = find(s, depth + 1);
            if (found.isPresent()) {
                return found;
            }
        }
        return t.getCause() == t ? Optional.empty() : find(t.getCause(), depth + 1);
    }

    /**
     * Classifies a handshake failure seen by a server that requires client certificates: a
     * reason means {@code denied}, empty means {@code tls_error}.
     */
    public static Optional<Reason> reasonOf(Throwable handshakeFailure) {
        Optional<PeerRefusedException> refused = find(handshakeFailure);
        if (refused.isPresent()) {
            return Optional.of(refused.get().reason());
        }
        for (Throwable t = handshakeFailure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String message = t.getMessage();
            if (message != null && NO_CERTIFICATE_ERRORS.stream().anyMatch(message::contains)) {
                return Optional.of(Reason.NO_CLIENT_CERTIFICATE);
            }
        }
        return Optional.empty();
    }
}
