package io.meshgate.tls.testing;

import io.meshgate.tls.Pem;
import io.meshgate.tls.pki.CertificateIssuer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;

/**
 * Certificates made in-test: a root per "cluster" that signs leaves directly, leaves with any SAN
 * mix (none, several SPIFFE URIs) and any validity, for the cases the product PKI
 * ({@code io.meshgate.tls.pki}) deliberately cannot produce. Signing is the product's.
 */
public final class TestPki {

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
            return issue(notBefore, notAfter, spiffe == null ? List.of() : List.of(spiffe), dnsNames);
        }

        /** A leaf with exactly these URI SANs (zero, one or several). */
        public Issued issue(Instant notBefore, Instant notAfter, List<String> uris, String... dnsNames) {
            KeyPair kp = CertificateIssuer.newKeyPair();
            String cn = uris.isEmpty() ? "leaf" : uris.get(0);
            X509Certificate leaf = CertificateIssuer.leaf(subject(name, cn.length() > 64 ? "leaf" : cn), kp.getPublic(), cert, key,
                    notBefore, notAfter, uris, Arrays.asList(dnsNames));
            return new Issued(kp.getPrivate(), List.of(leaf));
        }

        public Path writeCert(Path file) {
            return write(file, cert);
        }
    }

    private TestPki() {}

    public static Ca root(String name) {
        return root(name, Instant.now().minus(Duration.ofMinutes(5)), Instant.now().plus(Duration.ofDays(365)));
    }

    /** A root with a chosen validity (an expired one for bundle tests). */
    public static Ca root(String name, Instant notBefore, Instant notAfter) {
        KeyPair kp = CertificateIssuer.newKeyPair();
        X509Certificate cert = CertificateIssuer.root(subject(name, name + " root"), kp, notBefore, notAfter, List.of());
        return new Ca(name, kp.getPrivate(), cert);
    }

    private static X500Name subject(String organization, String commonName) {
        return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.O, organization).addRDN(BCStyle.CN, commonName).build();
    }

    /** PEM-encodes objects (certificates, keys) into a file. */
    public static Path write(Path file, Object... objects) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.writeString(file, Pem.encode(objects));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }
}
