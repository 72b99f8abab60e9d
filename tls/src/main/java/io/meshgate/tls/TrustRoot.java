package io.meshgate.tls;

import java.security.cert.X509Certificate;
import java.time.Instant;

/**
 * One root CA of the federated bundle, with the facts operators look at (/debug/trust, metrics).
 *
 * @param subject RFC 2253 subject DN
 * @param sha256 lowercase hex SHA-256 of the DER
 */
public record TrustRoot(String subject, String sha256, Instant notAfter, X509Certificate certificate) {

    public static TrustRoot of(X509Certificate certificate) {
        return new TrustRoot(certificate.getSubjectX500Principal().getName(javax.security.auth.x500.X500Principal.RFC2253),
                Fingerprint.sha256(certificate), certificate.getNotAfter().toInstant(), certificate);
    }
}
