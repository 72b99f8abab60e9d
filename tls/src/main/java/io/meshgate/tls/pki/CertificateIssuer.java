package io.meshgate.tls.pki;

import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.CertIOException;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Signs the three kinds of mesh certificates with Bouncy Castle (EC P-256 or RSA keys, SHA-256
 * signatures by the signer's key type, SKI and AKI): a self-signed root, an intermediate (pathlen 0) that signs workloads, and workload leaves
 * with SPIFFE URI and DNS SANs usable for both serverAuth and clientAuth, as Istio issues them.
 */
public final class CertificateIssuer {

    private static final SecureRandom RANDOM = new SecureRandom();

    private CertificateIssuer() {}

    /** A fresh EC P-256 key pair. */
    public static KeyPair newKeyPair() {
        return KeyType.EC_P256.generate();
    }

    /** A self-signed root CA; {@code uris} may carry the trust domain's SPIFFE ID. */
    public static X509Certificate root(X500Name subject, KeyPair keys, Instant notBefore, Instant notAfter, List<String> uris) {
        return sign(subject, keys.getPublic(), subject, null, keys.getPrivate(), notBefore, notAfter, Kind.ROOT, uris, List.of());
    }

    /** An intermediate CA under {@code issuer} that may sign leaves only (pathlen 0). */
    public static X509Certificate intermediate(X500Name subject, PublicKey key, X509Certificate issuer, PrivateKey issuerKey,
                                               Instant notBefore, Instant notAfter, List<String> uris) {
        return sign(subject, key, issuerName(issuer), issuer, issuerKey, notBefore, notAfter, Kind.INTERMEDIATE, uris, List.of());
    }

    /** A workload leaf: CA false, digitalSignature, serverAuth+clientAuth, URI and DNS SANs. */
    public static X509Certificate leaf(X500Name subject, PublicKey key, X509Certificate issuer, PrivateKey issuerKey,
                                       Instant notBefore, Instant notAfter, List<String> uris, List<String> dnsNames) {
        return sign(subject, key, issuerName(issuer), issuer, issuerKey, notBefore, notAfter, Kind.LEAF, uris, dnsNames);
    }

    private enum Kind { ROOT, INTERMEDIATE, LEAF }

    private static X500Name issuerName(X509Certificate issuer) {
        return X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
    }

    private static X509Certificate sign(X500Name subject, PublicKey key, X500Name issuerName, X509Certificate issuer,
                                        PrivateKey signer, Instant notBefore, Instant notAfter, Kind kind,
                                        List<String> uris, List<String> dnsNames) {
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName, new BigInteger(127, RANDOM).add(BigInteger.ONE),
                    Date.from(notBefore), Date.from(notAfter), subject, key);
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(key));
            if (issuer != null) {
                b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(issuer));
            } else {
                b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(key));
            }
            switch (kind) {
                case ROOT -> {
                    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
                    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
                }
                case INTERMEDIATE -> {
                    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
                    b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
                }
                case LEAF -> {
                    b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
                    // RSA leaves also allow keyEncipherment, as Istio and OpenSSL issue them (TLS 1.2 RSA key transport).
                    int usage = "RSA".equals(key.getAlgorithm())
                            ? KeyUsage.digitalSignature | KeyUsage.keyEncipherment : KeyUsage.digitalSignature;
                    b.addExtension(Extension.keyUsage, true, new KeyUsage(usage));
                    b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(
                            new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
                }
            }
            List<GeneralName> sans = new ArrayList<>();
            uris.forEach(u -> sans.add(new GeneralName(GeneralName.uniformResourceIdentifier, u)));
            dnsNames.forEach(d -> sans.add(new GeneralName(GeneralName.dNSName, d)));
            if (!sans.isEmpty()) {
                // RFC 5280: critical when the subject is empty.
                b.addExtension(Extension.subjectAlternativeName, subject.getRDNs().length == 0,
                        new GeneralNames(sans.toArray(new GeneralName[0])));
            }
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder(KeyType.signatureAlgorithm(signer)).build(signer)));
        } catch (CertIOException | OperatorCreationException | GeneralSecurityException e) {
            throw new IllegalStateException("cannot sign a " + kind.name().toLowerCase() + " certificate for " + subject, e);
        }
    }
}
