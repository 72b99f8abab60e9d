package io.meshgate.gateway.listener;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * The fatal alerts a terminating listener sends for a ClientHello it will not serve, before any
 * handshake: as plaintext TLS records (there are no keys yet, in TLS 1.2 and 1.3 alike), so the
 * caller's TLS stack names the problem instead of reporting a dropped connection. A passthrough
 * listener is not the TLS server and only closes.
 */
enum TlsAlert {
    /** RFC 6066 section 3: the server does not serve the name the caller asked for. */
    UNRECOGNIZED_NAME(112),
    /** RFC 8446 section 9.2: a server that requires {@code server_name} answers a hello without it so. */
    MISSING_EXTENSION(109);

    private final byte[] record;

    TlsAlert(int description) {
        // content type alert (21), record version TLS 1.2 (as TLS 1.3 records carry too), length 2, fatal (2)
        this.record = new byte[] {0x15, 0x03, 0x03, 0x00, 0x02, 0x02, (byte) description};
    }

    /** A new buffer holding the alert record (over a shared, never written array). */
    ByteBuf record() {
        return Unpooled.wrappedBuffer(record);
    }
}
