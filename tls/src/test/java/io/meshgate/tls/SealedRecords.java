package io.meshgate.tls;

import io.meshgate.tls.Tls13AlertRecord.Aead;

/**
 * TLS 1.3 records sealed the way a sender does (RFC 8446 §5.2), for tests outside this package:
 * an alert under a traffic secret at a sequence number, and the inner plaintext of a record.
 */
public final class SealedRecords {

    private SealedRecords() {}

    /** An alert record ({@code level}, {@code description}) sealed under {@code secret} (32 bytes: AES-128-GCM, 48: AES-256-GCM). */
    public static byte[] alert(byte[] secret, long sequence, int level, int description) throws Exception {
        Aead aead = secret.length == 48 ? Aead.AES_256_GCM : Aead.AES_128_GCM;
        byte[] inner = {(byte) level, (byte) description, Tls13AlertRecord.ALERT};
        int length = inner.length + 16;
        byte[] header = {Tls13AlertRecord.APPLICATION_DATA, 3, 3, (byte) (length >>> 8), (byte) length};
        byte[] key = Tls13AlertRecord.expandLabel(aead, secret, "key", aead.keyLength);
        byte[] nonce = Tls13AlertRecord.nonce(Tls13AlertRecord.expandLabel(aead, secret, "iv", 12), sequence);
        return Tls13AlertRecord.seal(header, inner, aead, key, nonce);
    }

    /** The inner plaintext (content, type, padding) of {@code record}, or null if it does not open under {@code secret} at {@code sequence}. */
    public static byte[] inner(byte[] record, byte[] secret, long sequence) {
        Tls13AlertRecord.Opened opened = Tls13AlertRecord.open(record, secret, sequence);
        return opened == null ? null : opened.inner();
    }
}
