package io.meshgate.e2e;

import io.meshgate.tls.testing.FirstFlight;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;

/** Real TLS ClientHellos (BoringSSL's first flight) for a given SNI, as a sidecar would send them. */
public final class ClientHellos {

    private ClientHellos() {
    }

    public static byte[] withSni(String sni) throws Exception {
        SslContext ctx = SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL)
                .trustManager(InsecureTrustManagerFactory.INSTANCE).build();
        try {
            return FirstFlight.of(ctx, sni);
        } finally {
            ReferenceCountUtil.release(ctx);
        }
    }
}
