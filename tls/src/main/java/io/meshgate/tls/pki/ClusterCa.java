package io.meshgate.tls.pki;

import io.meshgate.tls.Pem;
import io.meshgate.tls.PeerRefusedException;
import io.meshgate.tls.SpiffeId;
import io.meshgate.tls.TlsMaterialException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;

/**
 * One cluster's certificate authority in Istio's plug-in CA layout: a root (10 years) and the
 * intermediate (5 years) that signs the cluster's workload certificates (90 days by default).
 * Both CA certificates carry the trust domain's SPIFFE ID so {@code pki issue} can refuse a
 * workload ID of another trust domain.
 */
public record ClusterCa(X509Certificate rootCert, PrivateKey rootKey, X509Certificate caCert, PrivateKey caKey) {

    public static final Duration ROOT_VALIDITY = Duration.ofDays(3650);
    public static final Duration INTERMEDIATE_VALIDITY = Duration.ofDays(1825);
    public static final Duration LEAF_VALIDITY = Duration.ofDays(90);
    /** Backdating absorbs clock skew between the issuing machine and the verifying peers. */
    public static final Duration BACKDATE = Duration.ofMinutes(5);

    public static final String ROOT_CERT = "root-cert.pem";
    public static final String ROOT_KEY = "root-key.pem";
    public static final String CA_CERT = "ca-cert.pem";
    public static final String CA_KEY = "ca-key.pem";
    public static final String CERT_CHAIN = "cert-chain.pem";
    public static final List<String> FILES = List.of(ROOT_CERT, ROOT_KEY, CA_CERT, CA_KEY, CERT_CHAIN);

    /** A new EC P-256 root and intermediate for cluster {@code name} in {@code trustDomain}. */
    public static ClusterCa create(String name, String trustDomain, Instant now) throws PkiException {
        return create(name, trustDomain, now, KeyType.EC_P256);
    }

    /** A new root and intermediate for cluster {@code name} in {@code trustDomain}, both with {@code keyType} keys. */
    public static ClusterCa create(String name, String trustDomain, Instant now, KeyType keyType) throws PkiException {
        if (name == null || name.isBlank()) {
            throw new PkiException("--name must not be empty");
        }
        String problem = SpiffeId.trustDomainProblem(trustDomain);
        if (problem != null) {
            throw new PkiException("--trust-domain '" + trustDomain + "': " + problem);
        }
        List<String> uris = List.of(SpiffeId.ofTrustDomain(trustDomain).toString());
        Instant notBefore = now.minus(BACKDATE);
        KeyPair root = keyType.generate();
        X509Certificate rootCert = CertificateIssuer.root(subject(name, name + " root CA"), root, notBefore,
                now.plus(ROOT_VALIDITY), uris);
        KeyPair ca = keyType.generate();
        X509Certificate caCert = CertificateIssuer.intermediate(subject(name, name + " intermediate CA"), ca.getPublic(),
                rootCert, root.getPrivate(), notBefore, now.plus(INTERMEDIATE_VALIDITY), uris);
        return new ClusterCa(rootCert, root.getPrivate(), caCert, ca.getPrivate());
    }

    /** Reads a directory written by {@link #write}; only the intermediate's files and the root certificate are needed. */
    public static ClusterCa load(Path dir) throws PkiException {
        if (!Files.isDirectory(dir)) {
            throw new PkiException("--ca " + dir + ": not a directory (expected the output of pki init-cluster)");
        }
        try {
            X509Certificate root = single(dir.resolve(ROOT_CERT));
            X509Certificate ca = single(dir.resolve(CA_CERT));
            PrivateKey caKey = Pem.readPrivateKey(dir.resolve(CA_KEY));
            if (ca.getBasicConstraints() < 0) {
                throw new PkiException(dir.resolve(CA_CERT) + ": not a CA certificate");
            }
            try {
                ca.verify(root.getPublicKey());
            } catch (Exception e) {
                throw new PkiException(dir.resolve(CA_CERT) + ": not signed by " + dir.resolve(ROOT_CERT));
            }
            PrivateKey rootKey = Files.exists(dir.resolve(ROOT_KEY)) ? Pem.readPrivateKey(dir.resolve(ROOT_KEY)) : null;
            return new ClusterCa(root, rootKey, ca, caKey);
        } catch (TlsMaterialException e) {
            throw new PkiException(e.getMessage(), e);
        }
    }

    private static X509Certificate single(Path file) throws TlsMaterialException, PkiException {
        List<X509Certificate> certs = Pem.readCertificates(file);
        if (certs.size() != 1) {
            throw new PkiException(file + ": expected one certificate, found " + certs.size());
        }
        return certs.get(0);
    }

    /** The trust domain this CA issues for (from the intermediate's SPIFFE ID), or null for a foreign CA without one. */
    public String trustDomain() {
        try {
            return SpiffeId.of(caCert).trustDomain();
        } catch (PeerRefusedException e) {
            return null;
        }
    }

    /** The cluster name (the O of the intermediate's subject). */
    public String name() {
        X500Name subject = X500Name.getInstance(caCert.getSubjectX500Principal().getEncoded());
        var rdns = subject.getRDNs(BCStyle.O);
        return rdns.length == 0 ? "" : rdns[0].getFirst().getValue().toString();
    }

    /**
     * Writes the five Istio plug-in CA files; existing CA files are kept unless {@code overwrite},
     * because replacing a root silently cuts a cluster out of the mesh.
     */
    public void write(Path dir, boolean overwrite) throws PkiException, IOException {
        if (!overwrite) {
            for (String name : FILES) {
                if (Files.exists(dir.resolve(name))) {
                    throw new PkiException(dir.resolve(name) + " exists; refusing to replace a CA (use --force)");
                }
            }
        }
        Files.createDirectories(dir);
        Pem.writeAtomically(dir.resolve(ROOT_KEY), Pem.encode(rootKey), true);
        Pem.writeAtomically(dir.resolve(CA_KEY), Pem.encode(caKey), true);
        Pem.writeAtomically(dir.resolve(ROOT_CERT), Pem.encode(rootCert), false);
        Pem.writeAtomically(dir.resolve(CA_CERT), Pem.encode(caCert), false);
        Pem.writeAtomically(dir.resolve(CERT_CHAIN), Pem.encode(caCert, rootCert), false);
    }

    /**
     * A workload certificate for {@code spiffeId} (+ DNS SANs) valid for {@code validity}, signed by
     * the intermediate; it must end before the intermediate does.
     */
    public IssuedIdentity issue(SpiffeId spiffeId, List<String> dnsNames, Duration validity, Instant now) throws PkiException {
        return issue(spiffeId, dnsNames, validity, now, KeyType.EC_P256);
    }

    /** As {@link #issue(SpiffeId, List, Duration, Instant)} with a {@code keyType} key for the workload. */
    public IssuedIdentity issue(SpiffeId spiffeId, List<String> dnsNames, Duration validity, Instant now, KeyType keyType)
            throws PkiException {
        if (spiffeId.path().isEmpty()) {
            throw new PkiException("--spiffe " + spiffeId + ": a workload ID needs a path, e.g. spiffe://"
                    + spiffeId.trustDomain() + "/ns/default/sa/default");
        }
        String trustDomain = trustDomain();
        if (trustDomain != null && !trustDomain.equals(spiffeId.trustDomain())) {
            throw new PkiException("--spiffe " + spiffeId + ": this CA issues for trust domain " + trustDomain);
        }
        if (validity.isNegative() || validity.isZero()) {
            throw new PkiException("--days must be positive");
        }
        for (String dns : dnsNames) {
            if (!dns.matches("(\\*\\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*")) {
                throw new PkiException("--dns '" + dns + "' is not a DNS name");
            }
        }
        Instant notAfter = now.plus(validity);
        if (notAfter.isAfter(caCert.getNotAfter().toInstant())) {
            throw new PkiException("--days " + validity.toDays() + " outlives the intermediate CA, which expires "
                    + caCert.getNotAfter().toInstant());
        }
        KeyPair keys = keyType.generate();
        X509Certificate leaf = CertificateIssuer.leaf(subject(name(), null), keys.getPublic(), caCert, caKey,
                now.minus(BACKDATE), notAfter, List.of(spiffeId.toString()), dnsNames);
        return new IssuedIdentity(keys.getPrivate(), List.of(leaf, caCert));
    }

    private static X500Name subject(String organization, String commonName) {
        X500NameBuilder b = new X500NameBuilder(BCStyle.INSTANCE);
        if (!organization.isEmpty()) {
            b.addRDN(BCStyle.O, organization);
        }
        if (commonName != null) {
            b.addRDN(BCStyle.CN, commonName);
        }
        return b.build();
    }
}
