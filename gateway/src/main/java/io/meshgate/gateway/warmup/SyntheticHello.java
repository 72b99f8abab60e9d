package io.meshgate.gateway.warmup;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/** A minimal, well-formed TLS 1.3 ClientHello record carrying an SNI: the warm-up's first flight. */
final class SyntheticHello {

    private SyntheticHello() {}

    static byte[] withServerName(String name) {
        byte[] host = name.getBytes(StandardCharsets.US_ASCII);
        Bytes sni = new Bytes().u16(host.length + 3).u8(0).u16(host.length).raw(host);
        Bytes extensions = new Bytes()
                .u16(0x0000).u16(sni.size()).raw(sni.toArray())          // server_name
                .u16(0x002b).u16(3).u8(2).u16(0x0304);                   // supported_versions: TLS 1.3
        Bytes body = new Bytes()
                .u16(0x0303)                                             // legacy_version
                .raw(new byte[32])                                       // random
                .u8(32).raw(new byte[32])                                // legacy_session_id
                .u16(2).u16(0x1301)                                      // cipher_suites: TLS_AES_128_GCM_SHA256
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
