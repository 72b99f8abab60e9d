package io.meshgate.gateway.terminate;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.SealedRecords;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.security.SecureRandom;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The record scan of {@link AccessDeniedAlert} on the bytes an SslHandler writes: the TLS 1.2
 * plaintext alert changed in place, the TLS 1.3 sealed alert found among other records and
 * re-sealed, and everything else passed through byte for byte.
 */
class AccessDeniedAlertTest {

    static final SecureRandom RANDOM = new SecureRandom();

    static byte[] secret(int length) {
        byte[] s = new byte[length];
        RANDOM.nextBytes(s);
        return s;
    }

    static byte[] concat(byte[]... parts) {
        int n = Arrays.stream(parts).mapToInt(p -> p.length).sum();
        byte[] all = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return all;
    }

    @Test
    void shouldRewriteAPlaintextTls12AlertInPlace() {
        ByteBuf buf = Unpooled.wrappedBuffer(new byte[] {21, 3, 3, 0, 2, 2, 40});
        try {
            AccessDeniedAlert.rewrite(buf);
            assertThat(ByteBufUtil.getBytes(buf)).containsExactly(21, 3, 3, 0, 2, 2, 49);
        } finally {
            buf.release();
        }
    }

    @Test
    void shouldResealTheTls13AlertBehindOtherRecords() throws Exception {
        byte[] secret = secret(48);
        byte[] other = concat(new byte[] {23, 3, 3, 0, 40}, secret(40));
        byte[] alert = SealedRecords.alert(secret, 0, 2, 40);
        ByteBuf buf = Unpooled.wrappedBuffer(concat(other, alert));
        try {
            assertThat(AccessDeniedAlert.rewriteSealed(buf, secret)).isTrue();
            byte[] out = ByteBufUtil.getBytes(buf);
            assertThat(Arrays.copyOf(out, other.length)).isEqualTo(other);
            byte[] rewritten = Arrays.copyOfRange(out, other.length, out.length);
            assertThat(SealedRecords.inner(rewritten, secret, 0)).containsExactly(2, 49, 21);
        } finally {
            buf.release();
        }
    }

    @Test
    void shouldPassEverythingElseThroughUnchanged() throws Exception {
        byte[] secret = secret(32);
        byte[][] cases = {
                SealedRecords.alert(secret(32), 0, 2, 40),            // another handshake's key
                SealedRecords.alert(secret, 1, 2, 40),                // not the first record under the key
                SealedRecords.alert(secret, 0, 2, 42),                // bad_certificate is not rewritten
                Arrays.copyOf(SealedRecords.alert(secret, 0, 2, 40), 20), // truncated
                {21, 3, 3, 0, 2, 2, 40},                              // plaintext: TLS 1.2's case, not this one
        };
        for (byte[] bytes : cases) {
            ByteBuf buf = Unpooled.wrappedBuffer(bytes.clone());
            try {
                assertThat(AccessDeniedAlert.rewriteSealed(buf, secret)).isFalse();
                assertThat(ByteBufUtil.getBytes(buf)).isEqualTo(bytes);
            } finally {
                buf.release();
            }
        }
    }
}
