package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.KeyType;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The SPIFFE bundle (JWK set) of a mixed EC/RSA bundle: every key decodes back to its root. */
class SpiffeBundleTest {

    @Test
    @SuppressWarnings("unchecked")
    void jwkSetCarriesEveryRootWithItsKeyAndCertificate() throws Exception {
        ClusterCa ec = ClusterCa.create("cluster-a", "cluster.local", Instant.now());
        ClusterCa rsa = ClusterCa.create("cluster-r", "cluster.local", Instant.now(), KeyType.RSA_2048);
        Map<String, Object> bundle = SpiffeBundle.of(List.of(ec.rootCert(), rsa.rootCert()), 42, 300);
        assertThat(bundle.keySet()).containsExactly("keys", "spiffe_sequence", "spiffe_refresh_hint");
        assertThat(bundle.get("spiffe_sequence")).isEqualTo(42L);
        List<Map<String, Object>> keys = (List<Map<String, Object>>) bundle.get("keys");
        assertThat(keys).hasSize(2).allSatisfy(k -> assertThat(k.get("use")).isEqualTo("x509-svid"));

        Map<String, Object> e = keys.get(0);
        ECPublicKey ecKey = (ECPublicKey) ec.rootCert().getPublicKey();
        assertThat(e).containsEntry("kty", "EC").containsEntry("crv", "P-256");
        assertThat(unsigned((String) e.get("x"))).isEqualTo(ecKey.getW().getAffineX());
        assertThat(unsigned((String) e.get("y"))).isEqualTo(ecKey.getW().getAffineY());
        assertThat(Base64.getUrlDecoder().decode((String) e.get("x"))).hasSize(32);
        assertThat(certificate(e)).isEqualTo(ec.rootCert());

        Map<String, Object> r = keys.get(1);
        RSAPublicKey rsaKey = (RSAPublicKey) rsa.rootCert().getPublicKey();
        assertThat(r).containsEntry("kty", "RSA").containsEntry("e", "AQAB");
        assertThat(unsigned((String) r.get("n"))).isEqualTo(rsaKey.getModulus());
        assertThat(certificate(r)).isEqualTo(rsa.rootCert());
    }

    private static BigInteger unsigned(String base64Url) {
        return new BigInteger(1, Base64.getUrlDecoder().decode(base64Url));
    }

    @SuppressWarnings("unchecked")
    private static X509Certificate certificate(Map<String, Object> jwk) throws Exception {
        byte[] der = Base64.getDecoder().decode(((List<String>) jwk.get("x5c")).get(0));
        return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new ByteArrayInputStream(der));
    }
}
