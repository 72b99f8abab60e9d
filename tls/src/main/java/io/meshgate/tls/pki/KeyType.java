package io.meshgate.tls.pki;

import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.RSAKeyGenParameterSpec;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The key types {@code pki} issues: EC P-256 (meshgate's default, what Istio issues to workloads)
 * and RSA 2048 (Istio's default for self-signed roots). A CA of one type may sign certificates of
 * the other; the signature algorithm follows the signer's key ({@link #signatureAlgorithm}).
 */
public enum KeyType {
    EC_P256("ec-p256"),
    RSA_2048("rsa-2048");

    private static final SecureRandom RANDOM = new SecureRandom();

    private final String label;

    KeyType(String label) {
        this.label = label;
    }

    /** The CLI spelling: {@code ec-p256}, {@code rsa-2048}. */
    public String label() {
        return label;
    }

    public static KeyType parse(String label) throws PkiException {
        for (KeyType t : values()) {
            if (t.label.equals(label)) {
                return t;
            }
        }
        throw new PkiException("--key-type '" + label + "': expected one of "
                + Arrays.stream(values()).map(KeyType::label).collect(Collectors.joining(", ")));
    }

    public KeyPair generate() {
        try {
            return switch (this) {
                case EC_P256 -> {
                    KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
                    g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
                    yield g.generateKeyPair();
                }
                case RSA_2048 -> {
                    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
                    g.initialize(new RSAKeyGenParameterSpec(2048, RSAKeyGenParameterSpec.F4), RANDOM);
                    yield g.generateKeyPair();
                }
            };
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(label + " keys are mandatory in every JDK", e);
        }
    }

    /** SHA-256 with the signer's algorithm (ECDSA or PKCS#1 v1.5, as Istio and OpenSSL sign by default). */
    public static String signatureAlgorithm(PrivateKey signer) {
        return switch (signer.getAlgorithm()) {
            case "EC", "ECDSA" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            default -> throw new IllegalArgumentException("cannot sign with a " + signer.getAlgorithm() + " key");
        };
    }
}
