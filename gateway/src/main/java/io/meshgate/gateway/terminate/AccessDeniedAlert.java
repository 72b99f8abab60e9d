package io.meshgate.gateway.terminate;

import io.meshgate.tls.BundleTrustManager;
import io.meshgate.tls.PeerRefusedException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;

/**
 * Turns the alert BoringSSL sends for an identity refusal ({@code trust_domain_not_allowed}) into
 * {@code access_denied}, the alert RFC 8446 §6.2 names for it. A certificate verifier can only
 * hand BoringSSL an X.509 error code, and none maps to access_denied, so the verifier asks for
 * {@code handshake_failure} and records the refusal on the event loop thread
 * ({@link BundleTrustManager#takeIdentityRefusal()}); BoringSSL writes the alert in the same call
 * stack, and this handler, below the SslHandler for the handshake, rewrites the description byte of
 * that alert. Only a TLS 1.2 handshake alert is plaintext (before ChangeCipherSpec); under TLS 1.3
 * every alert is encrypted and passes unchanged, so the client gets handshake_failure there.
 * {@link HandshakeHandler} removes it once the handshake succeeded.
 */
final class AccessDeniedAlert extends ChannelOutboundHandlerAdapter {

    static final String NAME = "access-denied-alert";

    private static final int ALERT = 21;
    private static final int FATAL = 2;
    private static final int HANDSHAKE_FAILURE = 40;
    private static final int ACCESS_DENIED = 49;

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        // Taken on every write so a refusal never outlives the write stack it belongs to.
        if (BundleTrustManager.takeIdentityRefusal() == PeerRefusedException.Reason.TRUST_DOMAIN_NOT_ALLOWED
                && msg instanceof ByteBuf buf) {
            rewrite(buf);
        }
        ctx.write(msg, promise);
    }

    /** Rewrites every plaintext fatal handshake_failure alert record in {@code buf}, in place. */
    static void rewrite(ByteBuf buf) {
        int i = buf.readerIndex();
        int end = buf.writerIndex();
        while (i + 5 <= end) {
            int type = buf.getUnsignedByte(i);
            int major = buf.getUnsignedByte(i + 1);
            int length = buf.getUnsignedShort(i + 3);
            if (major != 3 || i + 5 + length > end) {
                return;
            }
            if (type == ALERT && length == 2 && buf.getUnsignedByte(i + 5) == FATAL
                    && buf.getUnsignedByte(i + 6) == HANDSHAKE_FAILURE) {
                buf.setByte(i + 6, ACCESS_DENIED);
            }
            i += 5 + length;
        }
    }
}
