package io.meshgate.gateway.terminate;

import io.meshgate.tls.BundleTrustManager;
import io.meshgate.tls.PeerRefusedException;
import io.meshgate.tls.ServerTrafficSecrets;
import io.meshgate.tls.Tls13AlertRecord;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import java.util.Arrays;

/**
 * Turns the alert BoringSSL sends for an identity refusal ({@code trust_domain_not_allowed},
 * {@code identity_not_allowed}) into
 * {@code access_denied}, the alert RFC 8446 §6.2 names for it. A certificate verifier can only
 * hand BoringSSL an X.509 error code, and none maps to access_denied, so the verifier asks for
 * {@code handshake_failure} and records the refusal on the event loop thread
 * ({@link BundleTrustManager#takeIdentityRefusal()}); BoringSSL writes the alert in the same call
 * stack, and this handler, below the SslHandler for the handshake, rewrites that alert on its way
 * to the socket: a TLS 1.2 alert is plaintext (before ChangeCipherSpec), its description byte is
 * changed in place; a TLS 1.3 alert is sealed under the server's first application traffic key
 * (record sequence 0: nothing else is sent under it before the client's Finished), so it is opened
 * with the handshake's {@code SERVER_TRAFFIC_SECRET_0} (kept by {@link ServerTrafficSecrets} for
 * this connection only) and sealed again by {@link Tls13AlertRecord}. Whatever does not match goes
 * out unchanged. {@link HandshakeHandler} removes this handler once the handshake succeeded, and
 * removal (or the connection's close) drops the secret.
 */
final class AccessDeniedAlert extends ChannelOutboundHandlerAdapter {

    static final String NAME = "access-denied-alert";

    private static final int ALERT = 21;
    private static final int APPLICATION_DATA = 23;
    private static final int FATAL = 2;
    private static final int HANDSHAKE_FAILURE = 40;
    private static final int ACCESS_DENIED = 49;

    /** This handshake's TLS 1.3 alert key while it lasts; null when the listener keeps none (no allow-policy). */
    private final ServerTrafficSecrets.Handshake tls13;

    AccessDeniedAlert(ServerTrafficSecrets.Handshake tls13) {
        this.tls13 = tls13;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        // Taken on every write so a refusal never outlives the write stack it belongs to.
        PeerRefusedException.Reason refused = BundleTrustManager.takeIdentityRefusal();
        if (refused != null && refused.identityRefusal() && msg instanceof ByteBuf buf) {
            rewrite(buf);
            byte[] secret = tls13 == null ? null : tls13.take();
            if (secret != null) {
                try {
                    rewriteSealed(buf, secret);
                } finally {
                    Arrays.fill(secret, (byte) 0);
                }
            }
        }
        ctx.write(msg, promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (tls13 != null) {
            tls13.close();
        }
    }

    /** Rewrites every plaintext fatal handshake_failure alert record in {@code buf}, in place. */
    static void rewrite(ByteBuf buf) {
        eachRecord(buf, (at, type, length) -> {
            if (type == ALERT && length == 2 && buf.getUnsignedByte(at + 5) == FATAL
                    && buf.getUnsignedByte(at + 6) == HANDSHAKE_FAILURE) {
                buf.setByte(at + 6, ACCESS_DENIED);
            }
            return false;
        });
    }

    /**
     * Rewrites, in place, the first TLS 1.3 record in {@code buf} that opens as a fatal
     * handshake_failure alert under {@code serverTrafficSecret} at sequence 0; true if one did.
     */
    static boolean rewriteSealed(ByteBuf buf, byte[] serverTrafficSecret) {
        return eachRecord(buf, (at, type, length) -> {
            if (type != APPLICATION_DATA || length > 512) {
                return false;
            }
            byte[] record = new byte[5 + length];
            buf.getBytes(at, record);
            byte[] rewritten = Tls13AlertRecord.accessDenied(record, serverTrafficSecret, 0);
            if (rewritten == null) {
                return false;
            }
            buf.setBytes(at, rewritten);
            return true;
        });
    }

    /** One whole TLS record at {@code at} (its 5-byte header included); true ends the walk. */
    private interface RecordVisitor {
        boolean visit(int at, int type, int length);
    }

    /**
     * Hands each whole TLS record of {@code buf} to {@code visitor} in order, stopping at a header
     * that is not TLS, a partial record, or the visitor's true; true if the visitor ended it.
     */
    private static boolean eachRecord(ByteBuf buf, RecordVisitor visitor) {
        int i = buf.readerIndex();
        int end = buf.writerIndex();
        while (i + 5 <= end) {
            int type = buf.getUnsignedByte(i);
            int length = buf.getUnsignedShort(i + 3);
            if (buf.getUnsignedByte(i + 1) != 3 || i + 5 + length > end) {
                return false;
            }
            if (visitor.visit(i, type, length)) {
                return true;
            }
            i += 5 + length;
        }
        return false;
    }
}
