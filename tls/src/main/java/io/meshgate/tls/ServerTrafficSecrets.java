package io.meshgate.tls;

import io.netty.handler.ssl.ReferenceCountedOpenSslContext;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslContext;
import io.netty.internal.tcnative.KeyLogCallback;
import io.netty.internal.tcnative.SSLContext;
import java.lang.reflect.Field;
import java.util.Arrays;
import java.util.concurrent.ConcurrentHashMap;
import javax.net.ssl.SSLEngine;

/**
 * The one TLS 1.3 secret a terminate listener holds, and only for the length of a handshake:
 * {@code SERVER_TRAFFIC_SECRET_0}, which seals the alert BoringSSL sends when meshgate refuses a
 * caller's identity. BoringSSL can only send handshake_failure for that refusal (no X.509 error
 * maps to access_denied), and over TLS 1.3 the alert is encrypted, so the gateway needs this key
 * to name the refusal access_denied ({@link Tls13AlertRecord}).
 *
 * <p>BoringSSL hands every secret of a handshake to the context's key-log callback (netty-tcnative's
 * {@link SSLContext#setKeyLogCallback}); this callback keeps the server application secret of a
 * connection that asked for it with {@link #watch} and drops every other line at once. Nothing is
 * logged. Installed only on the terminate contexts of a gateway with an allow-policy (allowed trust
 * domains or allowed identities), the only place such a refusal can happen.
 */
public final class ServerTrafficSecrets implements KeyLogCallback {

    private static final byte[] LABEL = "SERVER_TRAFFIC_SECRET_0 ".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    /** NSS key log line: LABEL, 64 hex digits of client random, a space, the secret in hex. */
    private static final int SECRET_AT = LABEL.length + 64 + 1;

    /** Handshakes waiting for their secret, by BoringSSL {@code SSL*}. */
    private final ConcurrentHashMap<Long, Handshake> watched = new ConcurrentHashMap<>();

    /**
     * Makes BoringSSL report the secrets of every handshake on {@code context} to {@code secrets};
     * false (nothing installed) when this Netty does not expose its context the way checked here.
     * netty-tcnative's {@code SSLContext} functions take netty-tcnative's own context structure,
     * which Netty keeps in the protected field {@code ReferenceCountedOpenSslContext.ctx}: its public
     * {@code sslCtxPointer()} (and the deprecated {@code context()}, which returns the same) is
     * BoringSSL's bare {@code SSL_CTX*}, and handing that to {@code setKeyLogCallback} crashes the
     * JVM. So the field is read once, while the fresh context is held, and only used when
     * netty-tcnative confirms it wraps that very {@code SSL_CTX*}.
     */
    static boolean install(SslContext context, ServerTrafficSecrets secrets) {
        if (!(context instanceof ReferenceCountedOpenSslContext openSsl) || CTX == null) {
            return false;
        }
        long tcnContext;
        try {
            tcnContext = CTX.getLong(openSsl);
        } catch (IllegalAccessException e) {
            return false;
        }
        if (tcnContext == 0 || SSLContext.getSslCtx(tcnContext) != openSsl.sslCtxPointer()) {
            return false;
        }
        return SSLContext.setKeyLogCallback(tcnContext, secrets);
    }

    /** {@code ReferenceCountedOpenSslContext.ctx} (netty-tcnative's context), or null if this Netty has no such field. */
    private static final Field CTX = tcnContextField();

    private static Field tcnContextField() {
        try {
            Field f = ReferenceCountedOpenSslContext.class.getDeclaredField("ctx");
            if (f.getType() != long.class) {
                return null;
            }
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Keeps the server application secret of {@code engine}'s handshake until it is taken or the
     * returned handle is closed (which the caller must do when the handshake ends or the connection
     * closes). Null for an engine that is not BoringSSL's.
     */
    public Handshake watch(SSLEngine engine) {
        if (!(engine instanceof ReferenceCountedOpenSslEngine openSsl)) {
            return null;
        }
        return watch(openSsl.sslPointer());
    }

    /** As {@link #watch(SSLEngine)} for BoringSSL's {@code SSL*}. */
    Handshake watch(long ssl) {
        Handshake handshake = new Handshake(ssl);
        // A pointer freed and reused by a new SSL replaces the stale entry; close() removes only its own.
        watched.put(ssl, handshake);
        return handshake;
    }

    /** Handshakes being watched now (tests: nothing may be kept after a handshake ends). */
    public int watching() {
        return watched.size();
    }

    @Override
    public void handle(long ssl, byte[] line) {
        if (!Arrays.equals(line, 0, Math.min(line.length, LABEL.length), LABEL, 0, LABEL.length)) {
            return;
        }
        Handshake handshake = watched.get(ssl);
        if (handshake != null) {
            handshake.secret = hex(line, SECRET_AT);
        }
        Arrays.fill(line, (byte) 0);
    }

    /** The hex digits from {@code from} to the end of the line (a trailing NUL or newline ends it); null if malformed. */
    static byte[] hex(byte[] line, int from) {
        int end = from;
        while (end < line.length && Character.digit(line[end], 16) >= 0) {
            end++;
        }
        int digits = end - from;
        if (digits == 0 || digits % 2 != 0 || digits > 2 * 64) {
            return null;
        }
        byte[] out = new byte[digits / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) (Character.digit(line[from + 2 * i], 16) << 4 | Character.digit(line[from + 2 * i + 1], 16));
        }
        return out;
    }

    /** One watched handshake; close it when the handshake ends or its connection closes. */
    public final class Handshake implements AutoCloseable {
        private final long ssl;
        /** Written by BoringSSL's callback and read by the pipeline, both on the connection's event loop. */
        private volatile byte[] secret;

        private Handshake(long ssl) {
            this.ssl = ssl;
        }

        /** The secret, once: the caller wipes it after use. Null if BoringSSL has not derived it (TLS 1.2, early failure). */
        public byte[] take() {
            byte[] s = secret;
            secret = null;
            return s;
        }

        @Override
        public void close() {
            watched.remove(ssl, this);
            byte[] s = take();
            if (s != null) {
                Arrays.fill(s, (byte) 0);
            }
        }
    }
}
