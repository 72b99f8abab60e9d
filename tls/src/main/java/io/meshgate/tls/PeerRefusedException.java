package io.meshgate.tls;

import java.security.cert.CertificateException;
import java.util.Optional;
import java.util.Set;

/**
 * A peer certificate (or its absence) refused by meshgate's own verification: the gateway counts
 * these as {@code denied}, every other handshake failure as {@code tls_error}.
 */
public final class PeerRefusedException extends CertificateException {

    /**
     * Why a peer was refused: the label operators see ({@code meshgate_peer_refusals_total{reason}},
     * the refusal log line) and the X.509 verify error handed to BoringSSL, which turns it into the
     * TLS alert the client receives ({@code SSL_alert_from_verify_result}).
     */
    public enum Reason {
        /** The client sent no certificate although the listener requires one (BoringSSL refuses before any verifier runs: certificate_required in TLS 1.3, handshake_failure in 1.2). */
        NO_CLIENT_CERTIFICATE("no_client_certificate", VerifyError.APPLICATION_VERIFICATION),
        /** The chain does not lead to a root of the current trust bundle: unknown_ca. */
        UNTRUSTED_ROOT("untrusted_root", VerifyError.UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
        /** Only the leaf was sent and its issuer is no root of the bundle: unknown_ca. */
        MISSING_INTERMEDIATE("missing_intermediate", VerifyError.UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
        /** A certificate of the path is past its notAfter: certificate_expired. */
        EXPIRED("expired", VerifyError.CERT_HAS_EXPIRED),
        /** A certificate of the path is before its notBefore: certificate_expired. */
        NOT_YET_VALID("not_yet_valid", VerifyError.CERT_NOT_YET_VALID),
        /** The leaf's extended key usage does not allow the role (clientAuth / serverAuth): bad_certificate. */
        WRONG_KEY_USAGE("wrong_key_usage", VerifyError.CERT_REJECTED),
        /** The chain is malformed: bad signature, a CA leaf, path length, constraints...: bad_certificate. */
        INVALID_CHAIN("invalid_chain", VerifyError.CERT_REJECTED),
        /** The leaf carries no spiffe:// URI SAN: bad_certificate. */
        NO_SPIFFE_ID("bad_spiffe_id", VerifyError.CERT_REJECTED),
        /** The leaf carries more than one spiffe:// URI SAN: bad_certificate. */
        MULTIPLE_SPIFFE_IDS("bad_spiffe_id", VerifyError.CERT_REJECTED),
        /** The leaf's spiffe:// URI SAN breaks the SPIFFE ID rules: bad_certificate. */
        MALFORMED_SPIFFE_ID("bad_spiffe_id", VerifyError.CERT_REJECTED),
        /**
         * The SPIFFE ID's trust domain is not in {@code tls.allowedTrustDomains}: access_denied.
         * BoringSSL can only send handshake_failure from a verifier (no X.509 error maps to
         * access_denied); the terminate listener's {@code AccessDeniedAlert} rewrites that alert, in
         * place over TLS 1.2 and re-sealed over TLS 1.3 ({@link Tls13AlertRecord}).
         */
        TRUST_DOMAIN_NOT_ALLOWED("trust_domain_not_allowed", VerifyError.APPLICATION_VERIFICATION),
        /**
         * The SPIFFE ID matches no entry of {@code tls.allowedIdentities}: access_denied, rewritten
         * the same way as {@link #TRUST_DOMAIN_NOT_ALLOWED}.
         */
        IDENTITY_NOT_ALLOWED("identity_not_allowed", VerifyError.APPLICATION_VERIFICATION);

        private final String label;
        private final int verifyError;

        Reason(String label, int verifyError) {
            this.label = label;
            this.verifyError = verifyError;
        }

        /** The metric and log label fixed for operators, e.g. {@code untrusted_root}. */
        public String label() {
            return label;
        }

        /**
         * A refusal of who the peer is rather than of its chain: the caller gets access_denied,
         * which BoringSSL cannot send by itself (the terminate listener rewrites its alert).
         */
        public boolean identityRefusal() {
            return this == TRUST_DOMAIN_NOT_ALLOWED || this == IDENTITY_NOT_ALLOWED;
        }

        /** The OpenSSL {@code X509_V_ERR_*} code that makes BoringSSL send this reason's alert. */
        public int verifyError() {
            return verifyError;
        }
    }

    /** The X509_V_ERR_* codes used above (OpenSSL's values, which BoringSSL and netty-tcnative share). */
    private static final class VerifyError {
        static final int CERT_NOT_YET_VALID = 9;            // -> certificate_expired
        static final int CERT_HAS_EXPIRED = 10;             // -> certificate_expired
        static final int UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20; // -> unknown_ca
        static final int CERT_REJECTED = 28;                // -> bad_certificate
        static final int APPLICATION_VERIFICATION = 50;     // -> handshake_failure
    }

    /**
     * What BoringSSL says when a client sends no certificate to a listener that requires one: it
     * refuses before any trust manager runs, so only its error text carries the fact.
     */
    private static final Set<String> NO_CERTIFICATE_ERRORS =
            Set.of("PEER_DID_NOT_RETURN_A_CERTIFICATE", "CERTIFICATE_REQUIRED");

    private final Reason reason;
    /** RFC 2253 subject of the refused peer's leaf, for the refusal log; null when it sent none. */
    private volatile String peerSubject;

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

    /** The subject DN of the leaf the refused peer sent, or null. */
    public String peerSubject() {
        return peerSubject;
    }

    PeerRefusedException peerSubject(String subject) {
        this.peerSubject = subject;
        return this;
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
