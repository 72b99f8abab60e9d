package io.meshgate.tls;

import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.internal.tcnative.SSL;
import javax.net.ssl.SSLEngine;

/**
 * Puts a mesh routing name such as {@code outbound_.8080_._.httpbin.default.svc.cluster.local}
 * into a client engine's SNI verbatim. Netty's OpenSSL engine only sets the SNI from the peer
 * host when {@code javax.net.ssl.SNIHostName} accepts it, and the JDK rejects underscores (STD3
 * rules) in both its constructors, so such names would silently go out without any SNI. BoringSSL
 * itself has no such rule: set the name on the native SSL before the handshake starts.
 */
public final class OutboundServerName {

    private OutboundServerName() {}

    /**
     * Sets {@code serverName} as the SNI host_name of a BoringSSL client engine that has not
     * started its handshake yet.
     */
    public static void apply(SSLEngine engine, String serverName) {
        if (!(engine instanceof ReferenceCountedOpenSslEngine openSsl)) {
            throw new IllegalArgumentException("routing names need the OpenSSL (BoringSSL) engine, got "
                    + engine.getClass().getName());
        }
        synchronized (openSsl) {
            SSL.setTlsExtHostName(openSsl.sslPointer(), serverName);
        }
    }
}
