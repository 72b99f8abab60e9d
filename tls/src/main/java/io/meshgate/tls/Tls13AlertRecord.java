package io.meshgate.tls;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.spec.AlgorithmParameterSpec;
import java.util.Arrays;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.Mac;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * One encrypted TLS 1.3 alert record, rewritten: a fatal {@code handshake_failure} sealed under a
 * server's {@code server_application_traffic_secret_0} becomes {@code access_denied}, sealed again
 * with the same key and nonce (RFC 8446 §5.2 record protection, §7.1 HKDF-Expand-Label, §7.3
 * traffic keys). Only the rewritten record ever leaves the process, so no nonce is used twice on
 * the wire. The AEAD is whichever TLS 1.3 suite opens the record: the secret's length names the
 * hash (32: SHA-256, AES-128-GCM or ChaCha20-Poly1305; 48: SHA-384, AES-256-GCM) and the tag
 * check rules out a wrong guess. A pure function of its inputs; anything that does not match
 * gives null, and the caller sends the record as it was.
 */
public final class Tls13AlertRecord {

    /** Record header: content type, legacy version (2), length (2); also the AEAD's additional data. */
    static final int HEADER = 5;
    static final int APPLICATION_DATA = 23;
    static final int ALERT = 21;
    static final int FATAL = 2;
    static final int HANDSHAKE_FAILURE = 40;
    static final int ACCESS_DENIED = 49;
    private static final int TAG = 16;
    private static final int NONCE = 12;
    /** Alert (2) + inner content type (1) + tag; RFC 8446 allows padding zeros, so a record may be longer. */
    static final int SHORTEST = 2 + 1 + TAG;
    /** No sender pads an alert to more than a few hundred bytes; longer records are data, not an alert. */
    static final int LONGEST = 512;

    /** The AEADs of the TLS 1.3 suites BoringSSL speaks (RFC 8446 B.4), with their key schedule hash. */
    enum Aead {
        AES_128_GCM("HmacSHA256", 32, "AES/GCM/NoPadding", "AES", 16),
        CHACHA20_POLY1305("HmacSHA256", 32, "ChaCha20-Poly1305", "ChaCha20", 32),
        AES_256_GCM("HmacSHA384", 48, "AES/GCM/NoPadding", "AES", 32);

        final String hmac;
        final int hashLength;
        final String transformation;
        final String keyAlgorithm;
        final int keyLength;

        Aead(String hmac, int hashLength, String transformation, String keyAlgorithm, int keyLength) {
            this.hmac = hmac;
            this.hashLength = hashLength;
            this.transformation = transformation;
            this.keyAlgorithm = keyAlgorithm;
            this.keyLength = keyLength;
        }

        Cipher cipher(int mode, byte[] key, byte[] nonce) throws GeneralSecurityException {
            AlgorithmParameterSpec parameters = this == CHACHA20_POLY1305 ? new IvParameterSpec(nonce)
                    : new GCMParameterSpec(TAG * 8, nonce);
            // A fresh Cipher every time: JCA refuses to encrypt twice under one key and nonce per instance.
            Cipher cipher = Cipher.getInstance(transformation);
            cipher.init(mode, new SecretKeySpec(key, keyAlgorithm), parameters);
            return cipher;
        }
    }

    /** A record opened: the AEAD and traffic key that opened it, its nonce, and the inner plaintext (content + type + padding). */
    record Opened(Aead aead, byte[] key, byte[] nonce, byte[] inner) {
        void wipe() {
            Arrays.fill(key, (byte) 0);
            Arrays.fill(nonce, (byte) 0);
            Arrays.fill(inner, (byte) 0);
        }
    }

    private Tls13AlertRecord() {}

    /**
     * {@code record} (one complete TLS 1.3 record, header included) re-sealed with its fatal
     * handshake_failure alert turned into access_denied; null when it is not exactly that alert
     * sealed under {@code trafficSecret} with record sequence number {@code sequence}.
     */
    public static byte[] accessDenied(byte[] record, byte[] trafficSecret, long sequence) {
        Opened opened = open(record, trafficSecret, sequence);
        if (opened == null) {
            return null;
        }
        try {
            byte[] inner = opened.inner();
            // content: level, description; then the real content type (no padding expected, but allowed)
            if (innerType(inner) != 2 || inner[2] != ALERT || inner[0] != FATAL || inner[1] != HANDSHAKE_FAILURE) {
                return null;
            }
            inner[1] = ACCESS_DENIED;
            return seal(Arrays.copyOf(record, HEADER), inner, opened.aead(), opened.key(), opened.nonce());
        } catch (GeneralSecurityException e) {
            return null;
        } finally {
            opened.wipe();
        }
    }

    /**
     * Opens a TLS 1.3 record of type application_data with the traffic key of {@code trafficSecret}
     * and sequence number {@code sequence}; null when no AEAD of the secret's hash opens it.
     */
    static Opened open(byte[] record, byte[] trafficSecret, long sequence) {
        if (record.length < HEADER + SHORTEST || record.length > HEADER + LONGEST || (record[0] & 0xff) != APPLICATION_DATA
                || record[1] != 3 || ((record[3] & 0xff) << 8 | record[4] & 0xff) != record.length - HEADER) {
            return null;
        }
        for (Aead aead : Aead.values()) {
            if (aead.hashLength != trafficSecret.length) {
                continue;
            }
            byte[] key = null;
            byte[] nonce = null;
            try {
                key = expandLabel(aead, trafficSecret, "key", aead.keyLength);
                nonce = nonce(expandLabel(aead, trafficSecret, "iv", NONCE), sequence);
                Cipher cipher = aead.cipher(Cipher.DECRYPT_MODE, key, nonce);
                cipher.updateAAD(record, 0, HEADER);
                byte[] inner = cipher.doFinal(record, HEADER, record.length - HEADER);
                return new Opened(aead, key, nonce, inner);
            } catch (AEADBadTagException notThisAead) {
                wipe(key, nonce);
            } catch (GeneralSecurityException e) {
                wipe(key, nonce);
                return null;
            }
        }
        return null;
    }

    /** A record: {@code header} (type, version, length of the sealed inner plaintext) and {@code inner} sealed after it. */
    static byte[] seal(byte[] header, byte[] inner, Aead aead, byte[] key, byte[] nonce) throws GeneralSecurityException {
        Cipher cipher = aead.cipher(Cipher.ENCRYPT_MODE, key, nonce);
        cipher.updateAAD(header);
        byte[] sealed = cipher.doFinal(inner);
        byte[] record = Arrays.copyOf(header, HEADER + sealed.length);
        System.arraycopy(sealed, 0, record, HEADER, sealed.length);
        return record;
    }

    /** The index of the inner content type (the last non-zero byte, RFC 8446 §5.4); -1 if all zeros. */
    static int innerType(byte[] inner) {
        int i = inner.length - 1;
        while (i >= 0 && inner[i] == 0) {
            i--;
        }
        return i;
    }

    /** HKDF-Expand-Label(secret, label, "", length), RFC 8446 §7.1; length ≤ the hash length, so one HMAC block. */
    static byte[] expandLabel(Aead aead, byte[] secret, String label, int length) throws GeneralSecurityException {
        byte[] full = ("tls13 " + label).getBytes(StandardCharsets.US_ASCII);
        byte[] info = new byte[2 + 1 + full.length + 1 + 1];
        info[0] = (byte) (length >>> 8);
        info[1] = (byte) length;
        info[2] = (byte) full.length;
        System.arraycopy(full, 0, info, 3, full.length);
        info[3 + full.length] = 0; // empty context
        info[info.length - 1] = 1; // HKDF-Expand's block counter T(1)
        Mac mac = Mac.getInstance(aead.hmac);
        mac.init(new SecretKeySpec(secret, aead.hmac));
        return Arrays.copyOf(mac.doFinal(info), length);
    }

    /** The per-record nonce: the 64-bit sequence number, big-endian, XORed into the end of the IV (RFC 8446 §5.3). */
    static byte[] nonce(byte[] iv, long sequence) {
        for (int i = 0; i < 8; i++) {
            iv[NONCE - 1 - i] ^= (byte) (sequence >>> (8 * i));
        }
        return iv;
    }

    private static void wipe(byte[] key, byte[] nonce) {
        if (key != null) {
            Arrays.fill(key, (byte) 0);
        }
        if (nonce != null) {
            Arrays.fill(nonce, (byte) 0);
        }
    }
}
