package io.meshgate.tls.hello;

import io.netty.buffer.ByteBuf;

/**
 * Walks a ClientHello body (RFC 8446 4.1.2) between absolute indexes and returns its SNI
 * host_name. Every length is checked against what encloses it; nothing is trusted.
 */
final class ClientHelloBody {

    /** A body that does not parse, with the refusal to report. */
    static final class MalformedHelloException extends Exception {
        private final ClientHelloReader.Refusal refusal;

        MalformedHelloException(ClientHelloReader.Refusal refusal) {
            super(refusal.description(), null, false, false);
            this.refusal = refusal;
        }

        ClientHelloReader.Refusal refusal() {
            return refusal;
        }
    }

    private static final MalformedHelloException BAD_LENGTH =
            new MalformedHelloException(ClientHelloReader.Refusal.BAD_LENGTH);
    private static final MalformedHelloException MALFORMED =
            new MalformedHelloException(ClientHelloReader.Refusal.MALFORMED);

    private ClientHelloBody() {}

    /** The SNI host_name in {@code [start, end)}; null when there is no server_name extension. */
    static String serverName(ByteBuf b, int start, int end) throws MalformedHelloException {
        int i = start;
        // legacy_version
        need(i, 2, end);
        if (b.getUnsignedByte(i) != 3) {
            throw MALFORMED;
        }
        i += 2;
        // random
        need(i, 32, end);
        i += 32;
        // legacy_session_id <0..32>
        need(i, 1, end);
        int sessionId = b.getUnsignedByte(i);
        if (sessionId > 32) {
            throw MALFORMED;
        }
        i += 1;
        need(i, sessionId, end);
        i += sessionId;
        // cipher_suites <2..2^16-2>, an even count of bytes
        need(i, 2, end);
        int suites = b.getUnsignedShort(i);
        if (suites < 2 || (suites & 1) != 0) {
            throw MALFORMED;
        }
        i += 2;
        need(i, suites, end);
        i += suites;
        // legacy_compression_methods <1..2^8-1>
        need(i, 1, end);
        int compression = b.getUnsignedByte(i);
        if (compression < 1) {
            throw MALFORMED;
        }
        i += 1;
        need(i, compression, end);
        i += compression;
        if (i == end) {
            return null; // a hello without extensions (TLS 1.0 style): no SNI
        }
        need(i, 2, end);
        int extensionsLength = b.getUnsignedShort(i);
        i += 2;
        if (i + extensionsLength != end) {
            throw BAD_LENGTH;
        }
        String serverName = null;
        boolean seenServerName = false;
        while (i < end) {
            need(i, 4, end);
            int type = b.getUnsignedShort(i);
            int length = b.getUnsignedShort(i + 2);
            i += 4;
            need(i, length, end);
            if (type == ClientHelloReader.EXT_SERVER_NAME) {
                if (seenServerName) {
                    throw MALFORMED; // RFC 8446 4.2: at most one extension of each type
                }
                seenServerName = true;
                serverName = hostName(b, i, i + length);
            }
            i += length;
        }
        return serverName;
    }

    /** RFC 6066 3: a ServerNameList with one host_name entry. */
    private static String hostName(ByteBuf b, int start, int end) throws MalformedHelloException {
        need(start, 2, end);
        int listLength = b.getUnsignedShort(start);
        int i = start + 2;
        if (i + listLength != end || listLength == 0) {
            throw BAD_LENGTH;
        }
        String host = null;
        while (i < end) {
            need(i, 3, end);
            int nameType = b.getUnsignedByte(i);
            int length = b.getUnsignedShort(i + 1);
            i += 3;
            need(i, length, end);
            if (nameType == ClientHelloReader.NAME_TYPE_HOST) {
                if (host != null || length == 0 || length > ClientHelloReader.MAX_HOST_NAME) {
                    throw MALFORMED;
                }
                for (int k = i; k < i + length; k++) {
                    int c = b.getUnsignedByte(k);
                    if (c <= 0x20 || c >= 0x7f) {
                        throw MALFORMED; // host names are printable ASCII; no NUL tricks
                    }
                }
                host = ClientHelloReader.ascii(b, i, length);
            }
            i += length;
        }
        return host;
    }

    private static void need(int index, int length, int end) throws MalformedHelloException {
        if (length < 0 || index + length > end) {
            throw BAD_LENGTH;
        }
    }
}
