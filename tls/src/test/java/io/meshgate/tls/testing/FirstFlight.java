package io.meshgate.tls.testing;

import io.meshgate.tls.OutboundServerName;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;

/**
 * The first flight (the ClientHello record) a client context puts on the wire for an SNI,
 * captured from its engine without a network: with a BoringSSL context, exactly what a sidecar
 * sends. For synthetic hellos of any shape use {@link ClientHellos}.
 */
public final class FirstFlight {

    private FirstFlight() {}

    /** {@code client}'s first flight for {@code sni} (set verbatim, underscores and all; null: no SNI at all). */
    public static byte[] of(SslContext client, String sni) throws SSLException {
        SSLEngine engine = sni == null ? client.newEngine(ByteBufAllocator.DEFAULT)
                : client.newEngine(ByteBufAllocator.DEFAULT, sni, 443);
        try {
            engine.setUseClientMode(true);
            if (sni != null) {
                OutboundServerName.apply(engine, sni);
            }
            engine.beginHandshake();
            ByteBuffer out = ByteBuffer.allocate(64 * 1024);
            engine.wrap(ByteBuffer.allocate(0), out);
            out.flip();
            byte[] hello = new byte[out.remaining()];
            out.get(hello);
            return hello;
        } finally {
            ReferenceCountUtil.release(engine);
        }
    }
}
