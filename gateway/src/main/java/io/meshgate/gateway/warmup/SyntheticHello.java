package io.meshgate.gateway.warmup;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Well-formed TLS 1.3 ClientHello records carrying an SNI: the warm-up's first flight, a minimal one
 * and one shaped like a real client's.
 */
final class SyntheticHello {

    /**
     * The size of OpenSSL's hello (Python's, curl's): padded to a 512-byte handshake message, which
     * some servers once mishandled between 256 and 511 bytes.
     */
    static final int REAL_CLIENT_BYTES = 517;

    private SyntheticHello() {}

    /** The least a TLS 1.3 hello needs: one cipher suite, the SNI and supported_versions. */
    static byte[] withServerName(String name) {
        Bytes extensions = new Bytes()
                .raw(serverName(name))
                .u16(0x002b).u16(3).u8(2).u16(0x0304);                   // supported_versions: TLS 1.3
        return record(1, extensions);
    }

    /**
     * A hello with what a real client's carries, in OpenSSL's order (eighteen cipher suites, the SNI
     * first, groups, signature algorithms, a key share, ...), padded to {@link #REAL_CLIENT_BYTES}: the
     * hello reader walks the same extensions, and reads the same number of bytes, as for real traffic.
     */
    static byte[] likeARealClient(String name) {
        Bytes extensions = new Bytes()
                .raw(serverName(name))
                .u16(0x000b).u16(4).u8(3).u8(0).u8(1).u8(2)                    // ec_point_formats
                .u16(0x000a).u16(22).u16(20).raw(new byte[20])                 // supported_groups
                .u16(0x0023).u16(0)                                            // session_ticket
                .u16(0x0016).u16(0)                                            // encrypt_then_mac
                .u16(0x0017).u16(0)                                            // extended_master_secret
                .u16(0x000d).u16(42).u16(40).raw(new byte[40])                 // signature_algorithms
                .u16(0x002b).u16(5).u8(4).u16(0x0304).u16(0x0303)              // supported_versions: 1.3, 1.2
                .u16(0x002d).u16(2).u8(1).u8(1)                                // psk_key_exchange_modes
                .u16(0x0033).u16(38).u16(36).u16(0x001d).u16(32).raw(new byte[32]); // key_share: x25519
        // Handshake header 4, version 2, random 32, session id 33, suites 2 + 36, compression 2, extensions 2.
        int unpadded = 4 + 2 + 32 + 33 + 2 + 36 + 2 + 2 + extensions.size();
        int padding = REAL_CLIENT_BYTES - 5 - unpadded - 4;
        if (padding < 0) {
            throw new IllegalArgumentException("server name too long for a " + REAL_CLIENT_BYTES + "-byte hello: " + name);
        }
        extensions.u16(0x0015).u16(padding).raw(new byte[padding]);        // padding
        return record(18, extensions);
    }

    private static byte[] serverName(String name) {
        byte[] host = name.getBytes(StandardCharsets.US_ASCII);
        Bytes list = new Bytes().u16(host.length + 3).u8(0).u16(host.length).raw(host);
        return new Bytes().u16(0x0000).u16(list.size()).raw(list.toArray()).toArray();
    }

    private static byte[] record(int cipherSuites, Bytes extensions) {
        Bytes suites = new Bytes();
        for (int i = 0; i < cipherSuites; i++) {
            suites.u16(i == 0 ? 0x1301 : 0xc02b + i);                      // TLS_AES_128_GCM_SHA256 first
        }
        Bytes body = new Bytes()
                .u16(0x0303)                                             // legacy_version
                .raw(new byte[32])                                       // random
                .u8(32).raw(new byte[32])                                // legacy_session_id
                .u16(suites.size()).raw(suites.toArray())                // cipher_suites
                .u8(1).u8(0)                                             // legacy_compression_methods: null
                .u16(extensions.size()).raw(extensions.toArray());
        Bytes handshake = new Bytes().u8(1).u24(body.size()).raw(body.toArray());  // client_hello
        return new Bytes().u8(22).u16(0x0301).u16(handshake.size()).raw(handshake.toArray()).toArray();
    }

    private static final class Bytes {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Bytes u8(int v) {
            out.write(v);
            return this;
        }

        Bytes u16(int v) {
            return u8(v >>> 8).u8(v & 0xff);
        }

        Bytes u24(int v) {
            return u8(v >>> 16).u16(v & 0xffff);
        }

        Bytes raw(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        int size() {
            return out.size();
        }

        byte[] toArray() {
            return out.toByteArray();
        }
    }
}
