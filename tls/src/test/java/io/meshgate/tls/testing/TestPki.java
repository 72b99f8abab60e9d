package io.meshgate.tls.testing;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
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
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Certificates made in-test with Bouncy Castle: a root per "cluster", leaves with SPIFFE and DNS
 * SANs. Small on purpose; the product's PKI lives in {@code io.meshgate.tls.pki}.
 */
public final class TestPki {

    private static final SecureRandom RANDOM = new SecureRandom();

    /** A key and its certificate chain (leaf first, root excluded). */
    public record Issued(PrivateKey key, List<X509Certificate> chain) {
        public X509Certificate leaf() {
            return chain.get(0);
        }

        /** Writes {@code <name>.pem} (chain) and {@code <name>.key}; returns the chain path. */
        public Path write(Path dir, String name) {
            TestPki.write(dir.resolve(name + ".key"), key);
            return TestPki.write(dir.resolve(name + ".pem"), chain.toArray());
        }
    }

    /** A CA that issues leaves. */
    public record Ca(String name, PrivateKey key, X509Certificate cert) {

        public Issued issue(String spiffe, String... dnsNames) {
            return issue(Instant.now().minus(Duration.ofMinutes(5)), Instant.now().plus(Duration.ofDays(1)), spiffe, dnsNames);
        }

        public Issued issue(Instant notBefore, Instant notAfter, String spiffe, String... dnsNames) {
            KeyPair kp = ecKey();
            List<GeneralName> sans = new ArrayList<>();
            if (spiffe != null) {
                sans.add(new GeneralName(GeneralName.uniformResourceIdentifier, spiffe));
            }
            for (String dns : dnsNames) {
                sans.add(new GeneralName(GeneralName.dNSName, dns));
            }
            X509Certificate leaf = build(new X500Name("O=" + name + ",CN=" + (spiffe == null ? "leaf" : spiffe)),
                    kp, cert, key, notBefore, notAfter, false, sans);
            return new Issued(kp.getPrivate(), List.of(leaf));
        }

        public Path writeCert(Path file) {
            return write(file, cert);
        }
    }

    private TestPki() {}

    public static Ca root(String name) {
        KeyPair kp = ecKey();
        X509Certificate cert = build(new X500Name("O=" + name + ",CN=" + name + " root"), kp, null, kp.getPrivate(),
                Instant.now().minus(Duration.ofMinutes(5)), Instant.now().plus(Duration.ofDays(365)), true, List.of());
        return new Ca(name, kp.getPrivate(), cert);
    }

    static KeyPair ecKey() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static X509Certificate build(X500Name subject, KeyPair kp, X509Certificate issuer, PrivateKey signer,
                                         Instant notBefore, Instant notAfter, boolean ca, List<GeneralName> sans) {
        try {
            X500Name issuerName = issuer == null ? subject : X500Name.getInstance(issuer.getSubjectX500Principal().getEncoded());
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(issuerName, new BigInteger(64, RANDOM).abs(),
                    Date.from(notBefore), Date.from(notAfter), subject, kp.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(kp.getPublic()));
            if (issuer != null) {
                b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(issuer));
            }
            if (ca) {
                b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            } else {
                b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
                b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyAgreement));
                b.addExtension(Extension.extendedKeyUsage, false,
                        new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
                if (!sans.isEmpty()) {
                    b.addExtension(Extension.subjectAlternativeName, true,
                            new GeneralNames(sans.toArray(new GeneralName[0])));
                }
            }
            return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer)));
        } catch (Exception e) {
            throw new IllegalStateException("cannot build test certificate", e);
        }
    }

    /** PEM-encodes objects (certificates, keys) into a file. */
    public static Path write(Path file, Object... objects) {
        StringWriter sw = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
            for (Object o : objects) {
                w.writeObject(o);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, sw.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }
}
