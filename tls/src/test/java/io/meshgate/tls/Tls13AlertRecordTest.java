package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.Tls13AlertRecord.Aead;
import io.meshgate.tls.Tls13AlertRecord.Opened;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The TLS 1.3 alert record rewrite: key schedule and record protection against RFC 8448 §3 (the
 * simple 1-RTT handshake: its server application traffic secret, key, IV and the server's
 * close_notify record), and the rewrite itself for each AEAD BoringSSL negotiates, with keys
 * derived in the test.
 */
class Tls13AlertRecordTest {

    static final HexFormat HEX = HexFormat.of();
    /** RFC 8448 §3: server_application_traffic_secret_0 (TLS_AES_128_GCM_SHA256). */
    static final byte[] RFC8448_SERVER_AP_SECRET = HEX.parseHex("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
    /** RFC 8448 §3: the server's close_notify alert record, its third record under that secret (after NewSessionTicket and data). */
    static final byte[] RFC8448_SERVER_ALERT = HEX.parseHex("1703030013b58fd67166ebf599d24720cfbe7efa7a8864a9");
    static final SecureRandom RANDOM = new SecureRandom();

    @Test
    void shouldDeriveTheRfc8448ServerApplicationKeyAndIv() throws Exception {
        assertThat(HEX.formatHex(Tls13AlertRecord.expandLabel(Aead.AES_128_GCM, RFC8448_SERVER_AP_SECRET, "key", 16)))
                .isEqualTo("9f02283b6c9c07efc26bb9f2ac92e356");
        assertThat(HEX.formatHex(Tls13AlertRecord.expandLabel(Aead.AES_128_GCM, RFC8448_SERVER_AP_SECRET, "iv", 12)))
                .isEqualTo("cf782b88dd83549aadf1e984");
    }

    @Test
    void shouldOpenAndResealTheRfc8448ServerAlertRecordByteForByte() throws Exception {
        Opened opened = Tls13AlertRecord.open(RFC8448_SERVER_ALERT, RFC8448_SERVER_AP_SECRET, 2);
        assertThat(opened).isNotNull();
        assertThat(opened.aead()).isEqualTo(Aead.AES_128_GCM);
        assertThat(HEX.formatHex(opened.inner())).as("warning close_notify, inner type alert").isEqualTo("010015");
        byte[] again = Tls13AlertRecord.seal(java.util.Arrays.copyOf(RFC8448_SERVER_ALERT, 5), opened.inner(), opened.aead(),
                opened.key(), opened.nonce());
        assertThat(again).isEqualTo(RFC8448_SERVER_ALERT);
        assertThat(Tls13AlertRecord.open(RFC8448_SERVER_ALERT, RFC8448_SERVER_AP_SECRET, 0)).as("wrong sequence").isNull();
    }

    @Test
    void shouldLeaveAWarningAlertAlone() {
        assertThat(Tls13AlertRecord.accessDenied(RFC8448_SERVER_ALERT, RFC8448_SERVER_AP_SECRET, 2)).isNull();
    }

    @ParameterizedTest
    @EnumSource(Aead.class)
    void shouldTurnAFatalHandshakeFailureIntoAccessDeniedUnderTheSameKey(Aead aead) throws Exception {
        byte[] secret = secret(aead);
        byte[] record = sealed(aead, secret, 0, new byte[] {2, 40, 21});

        byte[] rewritten = Tls13AlertRecord.accessDenied(record, secret, 0);

        assertThat(rewritten).hasSameSizeAs(record);
        assertThat(java.util.Arrays.copyOf(rewritten, 5)).isEqualTo(java.util.Arrays.copyOf(record, 5));
        Opened opened = Tls13AlertRecord.open(rewritten, secret, 0);
        assertThat(opened).isNotNull();
        assertThat(opened.aead()).isEqualTo(aead);
        assertThat(HEX.formatHex(opened.inner())).isEqualTo("023115");
    }

    @ParameterizedTest
    @EnumSource(Aead.class)
    void shouldKeepPaddingAfterTheInnerContentType(Aead aead) throws Exception {
        byte[] secret = secret(aead);
        byte[] rewritten = Tls13AlertRecord.accessDenied(sealed(aead, secret, 0, new byte[] {2, 40, 21, 0, 0, 0}), secret, 0);
        assertThat(HEX.formatHex(Tls13AlertRecord.open(rewritten, secret, 0).inner())).isEqualTo("023115000000");
    }

    @ParameterizedTest
    @EnumSource(Aead.class)
    void shouldGiveNullForAnythingElse(Aead aead) throws Exception {
        byte[] secret = secret(aead);
        byte[] alert = sealed(aead, secret, 0, new byte[] {2, 40, 21});
        assertThat(Tls13AlertRecord.accessDenied(alert, secret, 1)).as("another sequence number").isNull();
        assertThat(Tls13AlertRecord.accessDenied(alert, secret(aead), 0)).as("another secret").isNull();
        byte[] tampered = alert.clone();
        tampered[tampered.length - 1] ^= 1;
        assertThat(Tls13AlertRecord.accessDenied(tampered, secret, 0)).as("broken tag").isNull();
        assertThat(Tls13AlertRecord.accessDenied(sealed(aead, secret, 0, new byte[] {2, 42, 21}), secret, 0))
                .as("bad_certificate stays").isNull();
        assertThat(Tls13AlertRecord.accessDenied(sealed(aead, secret, 0, new byte[] {1, 40, 21}), secret, 0))
                .as("a warning").isNull();
        assertThat(Tls13AlertRecord.accessDenied(sealed(aead, secret, 0, new byte[] {2, 40, 23}), secret, 0))
                .as("application data that looks like an alert").isNull();
        assertThat(Tls13AlertRecord.accessDenied(sealed(aead, secret, 0, new byte[] {0, 2, 40, 21}), secret, 0))
                .as("longer content").isNull();
        byte[] plaintextAlert = {21, 3, 3, 0, 2, 2, 40};
        assertThat(Tls13AlertRecord.accessDenied(plaintextAlert, secret, 0)).as("a TLS 1.2 plaintext alert").isNull();
        byte[] wrongLength = alert.clone();
        wrongLength[4]++;
        assertThat(Tls13AlertRecord.accessDenied(wrongLength, secret, 0)).as("header length disagrees").isNull();
        assertThat(Tls13AlertRecord.accessDenied(alert, new byte[20], 0)).as("no TLS 1.3 hash has 20 bytes").isNull();
    }

    static byte[] secret(Aead aead) {
        byte[] secret = new byte[aead.hashLength];
        RANDOM.nextBytes(secret);
        return secret;
    }

    /** A record as a TLS 1.3 sender seals {@code inner} under {@code secret} at {@code sequence}. */
    static byte[] sealed(Aead aead, byte[] secret, long sequence, byte[] inner) throws Exception {
        int length = inner.length + 16;
        byte[] header = {23, 3, 3, (byte) (length >>> 8), (byte) length};
        byte[] key = Tls13AlertRecord.expandLabel(aead, secret, "key", aead.keyLength);
        byte[] nonce = Tls13AlertRecord.nonce(Tls13AlertRecord.expandLabel(aead, secret, "iv", 12), sequence);
        return Tls13AlertRecord.seal(header, inner, aead, key, nonce);
    }
}
