package io.meshgate.tls;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.DERBitString;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.bouncycastle.jcajce.provider.asymmetric.util.EC5Util;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * Reads and writes the PEM files meshgate trusts and serves, with errors that name the file:
 * certificates, and private keys in PKCS#8 or the traditional OpenSSL EC/RSA form.
 */
public final class Pem {

    private Pem() {}

    /** Every certificate in the file, in file order; anything else in it is an error. */
    public static List<X509Certificate> readCertificates(Path file) throws TlsMaterialException {
        String text = read(file);
        List<X509Certificate> certificates = new ArrayList<>();
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        try (PEMParser parser = new PEMParser(new StringReader(text))) {
            Object o;
            while ((o = parser.readObject()) != null) {
                if (!(o instanceof X509CertificateHolder holder)) {
                    throw new TlsMaterialException(file, "PEM block #" + (certificates.size() + 1)
                            + " is a " + describe(o) + ", expected a CERTIFICATE");
                }
                certificates.add(converter.getCertificate(holder));
            }
        } catch (IOException | CertificateException | RuntimeException e) {
            throw new TlsMaterialException(file, "not a valid PEM certificate file (certificate #"
                    + (certificates.size() + 1) + "): " + e.getMessage(), e);
        }
        if (certificates.isEmpty()) {
            throw new TlsMaterialException(file, "contains no PEM certificate");
        }
        return List.copyOf(certificates);
    }

    /** The one private key in the file. */
    public static PrivateKey readPrivateKey(Path file) throws TlsMaterialException {
        String text = read(file);
        JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
        PrivateKey key = null;
        try (PEMParser parser = new PEMParser(new StringReader(text))) {
            Object o;
            while ((o = parser.readObject()) != null) {
                PrivateKey found;
                if (o instanceof PEMKeyPair pair) {
                    found = converter.getPrivateKey(pair.getPrivateKeyInfo());
                } else if (o instanceof PrivateKeyInfo info) {
                    found = converter.getPrivateKey(info);
                } else if (o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo) {
                    throw new TlsMaterialException(file, "the private key is encrypted; meshgate needs it unencrypted");
                } else {
                    continue;
                }
                if (key != null) {
                    throw new TlsMaterialException(file, "contains more than one private key");
                }
                key = found;
            }
        } catch (IOException | RuntimeException e) {
            throw new TlsMaterialException(file, "not a valid PEM private key: " + e.getMessage(), e);
        }
        if (key == null) {
            throw new TlsMaterialException(file, "contains no PEM private key");
        }
        return key;
    }

    /** PEM text for certificates and keys; private keys are written as PKCS#8 ("PRIVATE KEY"). */
    public static String encode(Object... objects) {
        StringWriter sw = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(sw)) {
            for (Object o : objects) {
                if (o instanceof List<?> list) {
                    for (Object e : list) {
                        w.writeObject(e);
                    }
                } else if (o instanceof PrivateKey key) {
                    w.writeObject(new PemObject("PRIVATE KEY", pkcs8(key)));
                } else {
                    w.writeObject(o);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return sw.toString();
    }

    /**
     * The PKCS#8 DER of a private key as every TLS stack loads it. An EC key carries its public
     * key inside the RFC 5915 ECPrivateKey (OpenSSL writes it so; GnuTLS refuses a key without it,
     * "ASN1 parser: Element was not found"), which the JDK's own encoding leaves out; the public
     * point is recomputed from the private scalar. Other keys are written as the JDK encodes them.
     */
    public static byte[] pkcs8(PrivateKey key) {
        try {
            if (!(key instanceof java.security.interfaces.ECPrivateKey ec)) {
                return key.getEncoded();
            }
            PrivateKeyInfo jdk = PrivateKeyInfo.getInstance(key.getEncoded());
            org.bouncycastle.jce.spec.ECParameterSpec curve = EC5Util.convertSpec(ec.getParams());
            byte[] publicPoint = curve.getG().multiply(ec.getS()).normalize().getEncoded(false);
            int orderBits = ec.getParams().getOrder().bitLength();
            ECPrivateKey withPublic = new ECPrivateKey(orderBits, ec.getS(), new DERBitString(publicPoint), null);
            return new PrivateKeyInfo(jdk.getPrivateKeyAlgorithm(), withPublic).getEncoded(ASN1Encoding.DER);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Replaces {@code file} in one rename so a gateway watching it never reads half a file;
     * {@code secret} files are created owner-readable only.
     */
    public static void writeAtomically(Path file, String content, boolean secret) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
        try {
            if (secret) {
                try {
                    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
                } catch (UnsupportedOperationException ignored) {
                    // not a POSIX file system: the platform default applies
                }
            } else {
                try {
                    Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
                } catch (UnsupportedOperationException ignored) {
                    // not a POSIX file system: the platform default applies
                }
            }
            Files.writeString(tmp, content, StandardCharsets.US_ASCII);
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static String read(Path file) throws TlsMaterialException {
        try {
            return Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            throw new TlsMaterialException(file, "no such file");
        } catch (IOException e) {
            throw new TlsMaterialException(file, "cannot read: " + e, e);
        }
    }

    private static String describe(Object o) {
        if (o instanceof PEMKeyPair || o instanceof PrivateKeyInfo
                || o instanceof PEMEncryptedKeyPair || o instanceof PKCS8EncryptedPrivateKeyInfo) {
            return "PRIVATE KEY";
        }
        return o.getClass().getSimpleName();
    }
}
