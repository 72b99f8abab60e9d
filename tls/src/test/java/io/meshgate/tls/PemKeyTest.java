package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.pki.KeyType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.Signature;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.sec.ECPrivateKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Private keys as {@code pki} writes them: PKCS#8, EC keys with their public key, both types round-trip. */
class PemKeyTest {

    @TempDir
    Path dir;

    @Test
    void ecKeyCarriesItsPublicKey() throws Exception {
        KeyPair pair = KeyType.EC_P256.generate();
        String pem = Pem.encode(pair.getPrivate());
        assertThat(pem).startsWith("-----BEGIN PRIVATE KEY-----");
        ECPrivateKey inner = ECPrivateKey.getInstance(PrivateKeyInfo.getInstance(Pem.pkcs8(pair.getPrivate())).parsePrivateKey());
        byte[] publicPoint = inner.getPublicKey().getOctets();
        java.security.interfaces.ECPublicKey pub = (java.security.interfaces.ECPublicKey) pair.getPublic();
        assertThat(publicPoint[0]).isEqualTo((byte) 4);
        assertThat(new java.math.BigInteger(1, java.util.Arrays.copyOfRange(publicPoint, 1, 33))).isEqualTo(pub.getW().getAffineX());
        assertThat(new java.math.BigInteger(1, java.util.Arrays.copyOfRange(publicPoint, 33, 65))).isEqualTo(pub.getW().getAffineY());
        assertSigns(roundTrip(pem), pair);
    }

    @Test
    void rsaKeyRoundTrips() throws Exception {
        KeyPair pair = KeyType.RSA_2048.generate();
        String pem = Pem.encode(pair.getPrivate());
        assertThat(pem).startsWith("-----BEGIN PRIVATE KEY-----");
        PrivateKey back = roundTrip(pem);
        assertThat(back.getAlgorithm()).isEqualTo("RSA");
        assertSigns(back, pair);
    }

    private PrivateKey roundTrip(String pem) throws Exception {
        Path file = Files.writeString(dir.resolve("key.pem"), pem);
        return Pem.readPrivateKey(file);
    }

    private static void assertSigns(PrivateKey key, KeyPair original) throws Exception {
        String algorithm = KeyType.signatureAlgorithm(key);
        Signature s = Signature.getInstance(algorithm);
        s.initSign(key);
        s.update(new byte[] {1, 2, 3});
        byte[] signature = s.sign();
        Signature v = Signature.getInstance(algorithm);
        v.initVerify(original.getPublic());
        v.update(new byte[] {1, 2, 3});
        assertThat(v.verify(signature)).isTrue();
    }
}
