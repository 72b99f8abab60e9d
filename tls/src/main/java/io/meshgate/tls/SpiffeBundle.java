package io.meshgate.tls;

import java.math.BigInteger;
import java.security.PublicKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPublicKey;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A trust bundle in the SPIFFE bundle format (SPIFFE Trust Domain and Bundle spec, §4): an RFC
 * 7517 JWK set whose keys are the roots, each {@code "use": "x509-svid"} with the certificate in
 * {@code x5c}, plus {@code spiffe_sequence} and {@code spiffe_refresh_hint}. Returned as plain maps
 * and lists in field order, for any JSON writer.
 */
public final class SpiffeBundle {

    /** Seconds a consumer may wait before fetching the bundle again. */
    public static final long DEFAULT_REFRESH_HINT_SECONDS = 300;

    private SpiffeBundle() {}

    public static Map<String, Object> of(List<X509Certificate> roots, long sequence, long refreshHintSeconds) {
        List<Map<String, Object>> keys = new ArrayList<>();
        for (X509Certificate root : roots) {
            keys.add(jwk(root));
        }
        Map<String, Object> bundle = new LinkedHashMap<>();
        bundle.put("keys", keys);
        bundle.put("spiffe_sequence", sequence);
        bundle.put("spiffe_refresh_hint", refreshHintSeconds);
        return bundle;
    }

    static Map<String, Object> jwk(X509Certificate root) {
        Map<String, Object> jwk = new LinkedHashMap<>();
        jwk.put("use", "x509-svid");
        PublicKey key = root.getPublicKey();
        if (key instanceof ECPublicKey ec) {
            int size = (ec.getParams().getCurve().getField().getFieldSize() + 7) / 8;
            jwk.put("kty", "EC");
            jwk.put("crv", switch (size) {
                case 32 -> "P-256";
                case 48 -> "P-384";
                case 66 -> "P-521";
                default -> throw new IllegalArgumentException("unsupported EC curve of " + size * 8 + " bits");
            });
            jwk.put("x", base64Url(ec.getW().getAffineX(), size));
            jwk.put("y", base64Url(ec.getW().getAffineY(), size));
        } else if (key instanceof RSAPublicKey rsa) {
            jwk.put("kty", "RSA");
            jwk.put("n", base64Url(rsa.getModulus(), 0));
            jwk.put("e", base64Url(rsa.getPublicExponent(), 0));
        } else {
            throw new IllegalArgumentException("unsupported root key algorithm " + key.getAlgorithm());
        }
        try {
            jwk.put("x5c", List.of(Base64.getEncoder().encodeToString(root.getEncoded())));
        } catch (CertificateEncodingException e) {
            throw new IllegalArgumentException("root cannot be encoded", e);
        }
        return jwk;
    }

    /** Unsigned big-endian, left-padded to {@code length} bytes (0: minimal), base64url without padding (RFC 7518 §6). */
    private static String base64Url(BigInteger value, int length) {
        byte[] bytes = value.toByteArray();
        int start = bytes.length > 1 && bytes[0] == 0 ? 1 : 0;
        int n = bytes.length - start;
        byte[] out = new byte[Math.max(n, length)];
        System.arraycopy(bytes, start, out, out.length - n, n);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(out);
    }
}
