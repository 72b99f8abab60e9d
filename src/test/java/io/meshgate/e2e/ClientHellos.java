package io.meshgate.e2e;

import io.meshgate.tls.OutboundServerName;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.nio.ByteBuffer;
import javax.net.ssl.SSLEngine;

/** Real TLS ClientHellos (BoringSSL's first flight) for a given SNI, as a sidecar would send them. */
public final class ClientHellos {

    private ClientHellos() {
    }

    public static byte[] withSni(String sni) throws Exception {
        SslContext ctx = SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL)
                .trustManager(InsecureTrustManagerFactory.INSTANCE).build();
        SSLEngine engine = ctx.newEngine(ByteBufAllocator.DEFAULT);
        try {
            engine.setUseClientMode(true);
            OutboundServerName.apply(engine, sni);
            engine.beginHandshake();
            ByteBuffer out = ByteBuffer.allocate(16384);
            engine.wrap(ByteBuffer.allocate(0), out);
            out.flip();
            byte[] hello = new byte[out.remaining()];
            out.get(hello);
            return hello;
        } finally {
            ReferenceCountUtil.release(engine);
            ReferenceCountUtil.release(ctx);
        }
    }
}
