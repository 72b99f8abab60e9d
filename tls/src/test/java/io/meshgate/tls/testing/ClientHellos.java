package io.meshgate.tls.testing;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.OpenSslContextOption;
import io.netty.handler.ssl.ReferenceCountedOpenSslEngine;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.internal.tcnative.SSL;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;

/**
 * First flights a router meets on the wire, as bytes: well-formed synthetic ClientHellos shaped
 * like modern clients send them (GREASE, ECH GREASE, post-quantum key shares, padding past one
 * record), real BoringSSL hellos, re-framings that split them anywhere, and the malformed flights
 * a router must refuse. Shared with the gateway tests through the tls test-jar.
 */
public final class ClientHellos {

    /** The routing name real meshgate clients send; underscores and all. */
    public static final String MESH_SNI = "outbound_.8080_._.httpbin.default.svc.cluster.local";

    public static final int CONTENT_HANDSHAKE = 22;
    public static final int CONTENT_ALERT = 21;
    public static final int MAX_RECORD_PAYLOAD = 16384;

    public static final int EXT_SERVER_NAME = 0x0000;
    public static final int EXT_SUPPORTED_GROUPS = 0x000a;
    public static final int EXT_SIGNATURE_ALGORITHMS = 0x000d;
    public static final int EXT_ALPN = 0x0010;
    public static final int EXT_PADDING = 0x0015;
    public static final int EXT_EXTENDED_MASTER_SECRET = 0x0017;
    public static final int EXT_SUPPORTED_VERSIONS = 0x002b;
    public static final int EXT_PSK_KEY_EXCHANGE_MODES = 0x002d;
    public static final int EXT_KEY_SHARE = 0x0033;
    public static final int EXT_ENCRYPTED_CLIENT_HELLO = 0xfe0d;
    public static final int EXT_RENEGOTIATION_INFO = 0xff01;

    public static final int GROUP_X25519 = 0x001d;
    public static final int GROUP_SECP256R1 = 0x0017;
    public static final int GROUP_X25519MLKEM768 = 0x11ec;
    /** ML-KEM-768 encapsulation key (1184) followed by an X25519 share (32). */
    public static final int X25519MLKEM768_SHARE = 1216;

    /** Where the server_name extension sits among the others. */
    public enum SniPosition { FIRST, MIDDLE, LAST }

    private ClientHellos() {}

    public static Builder builder() {
        return new Builder();
    }

    /** A plain TLS 1.3 hello for {@link #MESH_SNI} in one record. */
    public static byte[] meshHello() {
        return builder().build();
    }

    /** Shaped like Chrome's: GREASE, ECH GREASE, X25519MLKEM768 + X25519 shares, ALPN; a 2048-byte flight in one record. */
    public static byte[] postQuantumHello(String serverName) {
        return builder().serverName(serverName).grease().echGrease(240).postQuantum().alpn("h2", "http/1.1").padTo(2048 - 5).build();
    }

    /** Builds a ClientHello handshake message and frames it; every field has a sensible default. */
    public static final class Builder {
        private byte[] serverName = MESH_SNI.getBytes(StandardCharsets.US_ASCII);
        private byte[] serverNameExtension;
        private SniPosition sniPosition = SniPosition.MIDDLE;
        private boolean grease;
        private int echPayload = -1;
        private final List<int[]> keyShares = new ArrayList<>();
        private int padTo = -1;
        private byte[] sessionId = new byte[0];
        private byte[] cipherSuites;
        private List<String> alpn = List.of();
        private final List<Extension> extra = new ArrayList<>();
        private int extensionsLengthDelta;
        private int handshakeType = 1;
        private long seed = 1;

        private Builder() {}

        /** The SNI host_name, written byte for byte as UTF-8 (so non-ASCII and empty names can be produced). */
        public Builder serverName(String host) {
            this.serverName = host.getBytes(StandardCharsets.UTF_8);
            return this;
        }

        /** No server_name extension at all. */
        public Builder noServerName() {
            this.serverName = null;
            return this;
        }

        /** Replaces the server_name extension data with these bytes verbatim. */
        public Builder rawServerNameExtension(byte[] data) {
            this.serverNameExtension = data.clone();
            return this;
        }

        public Builder sniPosition(SniPosition position) {
            this.sniPosition = position;
            return this;
        }

        /** GREASE (RFC 8701) cipher suite, extensions, version, group and key share, as Chrome sends them. */
        public Builder grease() {
            this.grease = true;
            return this;
        }

        /** An ECH GREASE extension (0xfe0d, outer type) with a 144-byte random payload. */
        public Builder echGrease() {
            return echGrease(144);
        }

        public Builder echGrease(int payloadBytes) {
            this.echPayload = payloadBytes;
            return this;
        }

        /** Adds a key share of {@code keyBytes} random bytes for {@code group}; X25519 alone when none is added. */
        public Builder keyShare(int group, int keyBytes) {
            keyShares.add(new int[] {group, keyBytes});
            return this;
        }

        /** X25519MLKEM768 (1216-byte share) then X25519: a post-quantum hello of about 1.8 KiB before ECH/padding. */
        public Builder postQuantum() {
            return keyShare(GROUP_X25519MLKEM768, X25519MLKEM768_SHARE).keyShare(GROUP_X25519, 32);
        }

        /** A padding extension sized so that the handshake message (4-byte header included) is exactly this long. */
        public Builder padTo(int handshakeBytes) {
            this.padTo = handshakeBytes;
            return this;
        }

        /** A legacy_session_id of this many random bytes; not checked, so 33 produces an invalid hello. */
        public Builder sessionId(int length) {
            this.sessionId = new byte[length];
            new Random(seed + 7).nextBytes(sessionId);
            return this;
        }

        /** The cipher_suites vector content verbatim (an odd length produces an invalid hello). */
        public Builder rawCipherSuites(byte[] suites) {
            this.cipherSuites = suites.clone();
            return this;
        }

        public Builder alpn(String... protocols) {
            this.alpn = List.of(protocols);
            return this;
        }

        /** One more extension, placed before the trailing GREASE/padding ones (duplicates allowed). */
        public Builder extension(int type, byte[] data) {
            extra.add(new Extension(type, data.clone()));
            return this;
        }

        /** Adds this to the extensions length field, making it disagree with the extensions present. */
        public Builder extensionsLengthDelta(int delta) {
            this.extensionsLengthDelta = delta;
            return this;
        }

        /** The handshake message type (1 = ClientHello, 2 = ServerHello...). */
        public Builder handshakeType(int type) {
            this.handshakeType = type;
            return this;
        }

        /** Seeds the random, session id, key shares and GREASE values; the default gives stable bytes. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** The handshake message: 4-byte header (type, 24-bit length) and body. */
        public byte[] handshake() {
            Random random = new Random(seed);
            Wire body = new Wire();
            body.u16(0x0303);
            body.bytes(randomBytes(random, 32));
            body.u8(sessionId.length).bytes(sessionId);
            if (cipherSuites != null) {
                body.u16(cipherSuites.length).bytes(cipherSuites);
            } else {
                Wire suites = new Wire();
                if (grease) {
                    suites.u16(greaseValue(random));
                }
                for (int s : new int[] {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8}) {
                    suites.u16(s);
                }
                body.vector16(suites);
            }
            body.u8(1).u8(0); // compression: null only
            byte[] extensions = extensions(random, body.size());
            body.u16(extensions.length + extensionsLengthDelta).bytes(extensions);
            Wire message = new Wire();
            message.u8(handshakeType).u24(body.size()).bytes(body.toByteArray());
            return message.toByteArray();
        }

        /** The first flight: the handshake message in records of at most 16384 bytes. */
        public byte[] build() {
            return frame(handshake(), MAX_RECORD_PAYLOAD);
        }

        private byte[] extensions(Random random, int bodyBeforeExtensions) {
            List<Extension> list = new ArrayList<>();
            if (grease) {
                list.add(new Extension(greaseValue(random), new byte[0]));
            }
            Wire versions = new Wire();
            if (grease) {
                versions.u16(greaseValue(random));
            }
            versions.u16(0x0304).u16(0x0303);
            list.add(new Extension(EXT_SUPPORTED_VERSIONS, new Wire().vector8(versions).toByteArray()));
            List<int[]> shares = keyShares.isEmpty() ? List.of(new int[] {GROUP_X25519, 32}) : keyShares;
            Wire groups = new Wire();
            if (grease) {
                groups.u16(greaseValue(random));
            }
            shares.forEach(s -> groups.u16(s[0]));
            groups.u16(GROUP_SECP256R1);
            list.add(new Extension(EXT_SUPPORTED_GROUPS, new Wire().vector16(groups).toByteArray()));
            list.add(new Extension(EXT_EXTENDED_MASTER_SECRET, new byte[0]));
            list.add(new Extension(EXT_RENEGOTIATION_INFO, new byte[] {0}));
            Wire signatures = new Wire();
            for (int s : new int[] {0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601}) {
                signatures.u16(s);
            }
            list.add(new Extension(EXT_SIGNATURE_ALGORITHMS, new Wire().vector16(signatures).toByteArray()));
            if (!alpn.isEmpty()) {
                Wire names = new Wire();
                alpn.forEach(p -> names.vector8(new Wire().bytes(p.getBytes(StandardCharsets.US_ASCII))));
                list.add(new Extension(EXT_ALPN, new Wire().vector16(names).toByteArray()));
            }
            Wire keyShareList = new Wire();
            if (grease) {
                keyShareList.u16(greaseValue(random)).u16(1).u8(0);
            }
            shares.forEach(s -> keyShareList.u16(s[0]).u16(s[1]).bytes(randomBytes(random, s[1])));
            list.add(new Extension(EXT_KEY_SHARE, new Wire().vector16(keyShareList).toByteArray()));
            list.add(new Extension(EXT_PSK_KEY_EXCHANGE_MODES, new byte[] {1, 1}));
            if (echPayload >= 0) {
                Wire ech = new Wire();
                ech.u8(0); // outer ClientHello
                ech.u16(0x0001).u16(0x0001); // HKDF-SHA256, AES-128-GCM
                ech.u8(random.nextInt(256));
                ech.vector16(new Wire().bytes(randomBytes(random, 32))); // enc
                ech.vector16(new Wire().bytes(randomBytes(random, echPayload)));
                list.add(new Extension(EXT_ENCRYPTED_CLIENT_HELLO, ech.toByteArray()));
            }
            list.addAll(extra);
            if (grease) {
                list.add(new Extension(greaseValue(random), new byte[] {0}));
            }
            Extension sni = sniExtension();
            if (sni != null) {
                switch (sniPosition) {
                    case FIRST -> list.add(0, sni);
                    case MIDDLE -> list.add(list.size() / 2, sni);
                    case LAST -> { } // after the padding, below
                }
            }
            if (padTo >= 0) {
                int used = 4 + bodyBeforeExtensions + 2 + encodedSize(list) + 4
                        + (sni != null && sniPosition == SniPosition.LAST ? 4 + sni.data.length : 0);
                if (used > padTo) {
                    throw new IllegalArgumentException("hello is already " + used + " bytes, cannot pad to " + padTo);
                }
                list.add(new Extension(EXT_PADDING, new byte[padTo - used]));
            }
            if (sni != null && sniPosition == SniPosition.LAST) {
                list.add(sni);
            }
            Wire out = new Wire();
            for (Extension e : list) {
                out.u16(e.type).vector16(new Wire().bytes(e.data));
            }
            if (out.size() > 0xffff) {
                throw new IllegalArgumentException("extensions take " + out.size() + " bytes, over the 65535 TLS allows");
            }
            return out.toByteArray();
        }

        private Extension sniExtension() {
            if (serverNameExtension != null) {
                return new Extension(EXT_SERVER_NAME, serverNameExtension);
            }
            if (serverName == null) {
                return null;
            }
            return new Extension(EXT_SERVER_NAME, serverNameExtension(serverName));
        }

        private static int encodedSize(List<Extension> list) {
            return list.stream().mapToInt(e -> 4 + e.data.length).sum();
        }

        private static int greaseValue(Random random) {
            int n = random.nextInt(16);
            return (n << 12) | 0x0a00 | (n << 4) | 0x0a;
        }
    }

    /** The server_name extension data (RFC 6066 3) holding one host_name entry. */
    public static byte[] serverNameExtension(byte[] hostName) {
        Wire entry = new Wire().u8(0).vector16(new Wire().bytes(hostName));
        return new Wire().vector16(entry).toByteArray();
    }

    // ---- re-framing -------------------------------------------------------------------------

    /** The handshake bytes in records of {@code recordPayload} bytes each (the last one shorter). */
    public static byte[] frame(byte[] handshake, int recordPayload) {
        if (recordPayload < 1 || recordPayload > MAX_RECORD_PAYLOAD) {
            throw new IllegalArgumentException("record payload " + recordPayload);
        }
        Wire out = new Wire();
        for (int i = 0; i < handshake.length; i += recordPayload) {
            record(out, CONTENT_HANDSHAKE, Arrays.copyOfRange(handshake, i, Math.min(handshake.length, i + recordPayload)));
        }
        return out.toByteArray();
    }

    /**
     * The handshake bytes in records of the given payload sizes, then the rest in records of at
     * most 16384. {@code frameSizes(h, 2, 3)} splits the 4-byte handshake header over two records.
     */
    public static byte[] frameSizes(byte[] handshake, int... sizes) {
        Wire out = new Wire();
        int i = 0;
        for (int size : sizes) {
            record(out, CONTENT_HANDSHAKE, Arrays.copyOfRange(handshake, i, i + size));
            i += size;
        }
        if (i < handshake.length) {
            out.bytes(frame(Arrays.copyOfRange(handshake, i, handshake.length), MAX_RECORD_PAYLOAD));
        }
        return out.toByteArray();
    }

    /** The handshake bytes carried by a flight of handshake records (the inverse of {@link #frame}). */
    public static byte[] unframe(byte[] flight) {
        Wire out = new Wire();
        int i = 0;
        while (i + 5 <= flight.length) {
            int length = (flight[i + 3] & 0xff) << 8 | (flight[i + 4] & 0xff);
            out.bytes(Arrays.copyOfRange(flight, i + 5, i + 5 + length));
            i += 5 + length;
        }
        return out.toByteArray();
    }

    /** The flight's bytes as TCP-segment-like chunks of these sizes, the rest in a last chunk. */
    public static List<byte[]> segments(byte[] flight, int... sizes) {
        List<byte[]> out = new ArrayList<>();
        int i = 0;
        for (int size : sizes) {
            out.add(Arrays.copyOfRange(flight, i, i + size));
            i += size;
        }
        if (i < flight.length) {
            out.add(Arrays.copyOfRange(flight, i, flight.length));
        }
        return out;
    }

    /** Concatenation, e.g. a hello followed by the bytes a client sends next. */
    public static byte[] concat(byte[]... parts) {
        Wire out = new Wire();
        for (byte[] p : parts) {
            out.bytes(p);
        }
        return out.toByteArray();
    }

    // ---- first flights to refuse ------------------------------------------------------------

    /** An SSLv2-format CLIENT-HELLO (2-byte header with the high bit set, message type 1). */
    public static byte[] sslv2Hello() {
        Wire msg = new Wire().u8(1).u16(0x0301).u16(3).u16(0).u16(16).u24(0x00002f);
        msg.bytes(randomBytes(new Random(2), 16));
        byte[] m = msg.toByteArray();
        return new Wire().u16(0x8000 | m.length).bytes(m).toByteArray();
    }

    public static byte[] httpRequest() {
        return "GET / HTTP/1.1\r\nHost: httpbin.default.svc.cluster.local\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    }

    /** A fatal handshake_failure alert record. */
    public static byte[] alertRecord() {
        Wire out = new Wire();
        record(out, CONTENT_ALERT, new byte[] {2, 40});
        return out.toByteArray();
    }

    /** A handshake record carrying a ServerHello-typed message instead of a ClientHello. */
    public static byte[] notClientHello() {
        return builder().handshakeType(2).build();
    }

    /** A first record that declares 16385 bytes of payload, one more than TLS allows. */
    public static byte[] oversizedRecord() {
        byte[] handshake = builder().padTo(MAX_RECORD_PAYLOAD + 1).handshake();
        Wire out = new Wire();
        record(out, CONTENT_HANDSHAKE, handshake);
        return out.toByteArray();
    }

    /** A zero-length handshake record (RFC 8446 5.1 forbids them) before the hello. */
    public static byte[] zeroLengthRecord() {
        Wire out = new Wire();
        record(out, CONTENT_HANDSHAKE, new byte[0]);
        return concat(out.toByteArray(), meshHello());
    }

    public static byte[] sessionIdTooLong() {
        return builder().sessionId(33).build();
    }

    public static byte[] oddCipherSuitesLength() {
        return builder().rawCipherSuites(new byte[] {0x13, 0x01, 0x13}).build();
    }

    /** The extensions length field says one byte more than the extensions present. */
    public static byte[] extensionsLengthMismatch() {
        return builder().extensionsLengthDelta(1).build();
    }

    /** The ServerNameList length says one byte more than its entries. */
    public static byte[] serverNameListLengthMismatch() {
        byte[] data = serverNameExtension(MESH_SNI.getBytes(StandardCharsets.US_ASCII));
        data[1]++;
        return builder().rawServerNameExtension(data).build();
    }

    public static byte[] duplicateServerName() {
        return builder().extension(EXT_SERVER_NAME, serverNameExtension("evil.example".getBytes(StandardCharsets.US_ASCII))).build();
    }

    public static byte[] emptyHostName() {
        return builder().serverName("").build();
    }

    public static byte[] nonAsciiHostName() {
        return builder().serverName("httpbin.défault.svc.cluster.local").build();
    }

    // ---- real clients -----------------------------------------------------------------------

    /**
     * The first flight a BoringSSL client (netty-tcnative) sends for {@code serverName}, captured
     * from one wrap of a fresh engine, with the SNI set by {@link #sendServerName}. {@code groups}
     * (e.g. {@code "X25519MLKEM768", "X25519"}) sets the supported groups; none keeps Netty's
     * defaults (X25519MLKEM768 and X25519 key shares with Netty 4.2.18 / tcnative 2.0.84).
     */
    public static byte[] boringSslHello(String serverName, String... groups) throws SSLException {
        return boringSslHello(serverName, true, groups);
    }

    /**
     * Makes an OpenSSL engine send {@code serverName} as SNI even when it has underscores. Netty
     * 4.2.18's {@code newEngine(alloc, host, port)} silently drops an SNI that
     * {@code new SNIHostName(String)} rejects (STD3 rules: no '_'), and the JDK refuses such a
     * name in {@code SSLParameters} too, so a mesh routing name never leaves the client that way;
     * BoringSSL itself takes any name. Call before the handshake starts (before the SslHandler is added).
     */
    public static void sendServerName(SSLEngine engine, String serverName) {
        SSL.setTlsExtHostName(((ReferenceCountedOpenSslEngine) engine).sslPointer(), serverName);
    }

    /** As {@link #boringSslHello(String, String...)}; {@code forceServerName} false shows what Netty alone sends. */
    public static byte[] boringSslHello(String serverName, boolean forceServerName, String... groups) throws SSLException {
        SslContextBuilder builder = SslContextBuilder.forClient()
                .sslProvider(SslProvider.OPENSSL)
                .trustManager(InsecureTrustManagerFactory.INSTANCE);
        if (groups.length > 0) {
            builder.option(OpenSslContextOption.GROUPS, groups);
        }
        SslContext context = builder.build();
        SSLEngine engine = context.newEngine(ByteBufAllocator.DEFAULT, serverName, 443);
        try {
            if (forceServerName) {
                sendServerName(engine, serverName);
            }
            ByteBuffer out = ByteBuffer.allocate(64 * 1024);
            SSLEngineResult result = engine.wrap(ByteBuffer.allocate(0), out);
            if (result.bytesProduced() == 0) {
                throw new SSLException("BoringSSL produced no ClientHello: " + result);
            }
            return Arrays.copyOf(out.array(), out.position());
        } finally {
            engine.closeOutbound();
            ReferenceCountUtil.release(engine);
            ReferenceCountUtil.release(context);
        }
    }

    /** The named-group ids of the key shares a flight's ClientHello offers, in order (for reporting what a client sent). */
    public static List<Integer> keyShareGroups(byte[] flight) {
        ByteBuffer b = ByteBuffer.wrap(unframe(flight));
        b.position(4 + 2 + 32);
        b.position(b.position() + 1 + (b.get(b.position()) & 0xff));
        b.position(b.position() + 2 + (b.getShort(b.position()) & 0xffff));
        b.position(b.position() + 1 + (b.get(b.position()) & 0xff));
        int end = b.position() + 2 + (b.getShort() & 0xffff);
        List<Integer> groups = new ArrayList<>();
        while (b.position() < end) {
            int type = b.getShort() & 0xffff;
            int length = b.getShort() & 0xffff;
            int next = b.position() + length;
            if (type == EXT_KEY_SHARE) {
                int sharesEnd = b.position() + 2 + (b.getShort() & 0xffff);
                while (b.position() < sharesEnd) {
                    groups.add(b.getShort() & 0xffff);
                    b.position(b.position() + 2 + (b.getShort(b.position()) & 0xffff));
                }
            }
            b.position(next);
        }
        return groups;
    }

    // ---- encoding ---------------------------------------------------------------------------

    private static void record(Wire out, int contentType, byte[] payload) {
        out.u8(contentType).u16(0x0301).u16(payload.length).bytes(payload);
    }

    private static byte[] randomBytes(Random random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private record Extension(int type, byte[] data) {}

    /** Big-endian TLS presentation-language writer. */
    private static final class Wire {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Wire u8(int v) {
            out.write(v);
            return this;
        }

        Wire u16(int v) {
            return u8(v >>> 8).u8(v);
        }

        Wire u24(int v) {
            return u8(v >>> 16).u16(v & 0xffff);
        }

        Wire bytes(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        Wire vector8(Wire content) {
            return u8(content.size()).bytes(content.toByteArray());
        }

        Wire vector16(Wire content) {
            return u16(content.size()).bytes(content.toByteArray());
        }

        int size() {
            return out.size();
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }
}
