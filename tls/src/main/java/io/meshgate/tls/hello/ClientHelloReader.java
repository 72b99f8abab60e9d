package io.meshgate.tls.hello;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;

/**
 * Reads the server name out of a connection's first flight without consuming it, the way a
 * router that forwards the bytes untouched must: TLS records split anywhere across TCP
 * segments, a ClientHello spread over several records (its 4-byte header included), hellos of
 * any size up to a cap, the SNI extension at any position among GREASE/ECH ones.
 *
 * <p>One instance per connection. Call {@link #read(ByteBuf)} with the whole cumulation every
 * time bytes arrive: it resumes where it stopped (record headers are walked once), never moves
 * the buffer's indexes, and allocates only for a hello fragmented over several records.
 *
 * <p>Anything that is not a well-formed ClientHello is refused with a {@link Refusal}; the caller
 * closes without forwarding a byte.
 */
public final class ClientHelloReader {

    /** Where reading stands. */
    public enum Status { NEED_MORE, COMPLETE, REFUSED }

    /** Why a first flight is not a usable ClientHello. */
    public enum Refusal {
        /** The first record is not a handshake record (garbage, HTTP, an alert...). */
        NOT_HANDSHAKE("first record is not a TLS handshake"),
        /** An SSLv2-format (or SSLv2-compatible) hello. */
        SSLV2("SSLv2-format hello"),
        /** The first handshake message is not a ClientHello. */
        NOT_CLIENT_HELLO("first handshake message is not a ClientHello"),
        /** A record or a length inside the hello does not add up. */
        BAD_LENGTH("inconsistent lengths"),
        /** The first flight grew past the configured cap before the hello was complete. */
        TOO_LARGE("ClientHello over the size cap"),
        /** A field has a value the protocol does not allow. */
        MALFORMED("malformed ClientHello");

        private final String description;

        Refusal(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }

    static final int RECORD_HEADER = 5;
    static final int HANDSHAKE_HEADER = 4;
    static final int CONTENT_HANDSHAKE = 22;
    static final int MAX_RECORD_PAYLOAD = 1 << 14;
    static final int HANDSHAKE_CLIENT_HELLO = 1;
    static final int EXT_SERVER_NAME = 0;
    static final int NAME_TYPE_HOST = 0;
    static final int MAX_HOST_NAME = 255;

    private final int maxBytes;

    /** Reader-relative offset of the next record header not yet walked. */
    private int next;
    /** Payload offsets and lengths of the complete records walked so far (pairs). */
    private int[] records = new int[8];
    private int recordCount;
    /** Handshake bytes in complete records. */
    private int payload;
    /** Length of the ClientHello message body, -1 until its header has arrived. */
    private int messageLength = -1;

    private Status status = Status.NEED_MORE;
    private Refusal refusal;
    private String serverName;

    /** @param maxBytes cap on the bytes (records and headers) the first flight may take before the hello is complete */
    public ClientHelloReader(int maxBytes) {
        if (maxBytes < RECORD_HEADER + HANDSHAKE_HEADER) {
            throw new IllegalArgumentException("maxBytes too small: " + maxBytes);
        }
        this.maxBytes = maxBytes;
    }

    public Status status() {
        return status;
    }

    /** Why the hello was refused; null unless {@link Status#REFUSED}. */
    public Refusal refusal() {
        return refusal;
    }

    /** The host_name of the SNI extension; null when the complete hello has none. */
    public String serverName() {
        return serverName;
    }

    /** Bytes of the stream taken by the records that carry the ClientHello (valid when complete). */
    public int helloBytes() {
        return next;
    }

    /**
     * Continues reading. {@code cumulation} holds every byte received so far, from its reader
     * index; its indexes are left as they are.
     */
    public Status read(ByteBuf cumulation) {
        if (status != Status.NEED_MORE) {
            return status;
        }
        int base = cumulation.readerIndex();
        int available = cumulation.readableBytes();
        if (next == 0 && available > 0) {
            Refusal r = checkFirstBytes(cumulation, base, available);
            if (r != null) {
                return refuse(r);
            }
        }
        while (available - next >= RECORD_HEADER) {
            int h = base + next;
            int type = cumulation.getUnsignedByte(h);
            int major = cumulation.getUnsignedByte(h + 1);
            int length = cumulation.getUnsignedShort(h + 3);
            if (type != CONTENT_HANDSHAKE) {
                // A hello interleaved with another content type is not a first flight any client sends.
                return refuse(next == 0 ? Refusal.NOT_HANDSHAKE : Refusal.MALFORMED);
            }
            if (major != 3) {
                return refuse(Refusal.MALFORMED);
            }
            if (length == 0 || length > MAX_RECORD_PAYLOAD) {
                return refuse(Refusal.BAD_LENGTH);
            }
            if (next + RECORD_HEADER + length > maxBytes) {
                return refuse(Refusal.TOO_LARGE);
            }
            int arrived = Math.min(length, available - next - RECORD_HEADER);
            if (messageLength < 0 && payload + arrived > 0) {
                // Judge the handshake header as soon as its bytes are in, even in an incomplete
                // record: a 16 KiB record must not be buffered to learn it is not a hello or too big.
                Refusal r = readHandshakeHeader(cumulation, base, next + RECORD_HEADER, arrived);
                if (r != null) {
                    return refuse(r);
                }
            }
            if (arrived < length) {
                return status; // the record is not complete yet
            }
            addRecord(next + RECORD_HEADER, length);
            next += RECORD_HEADER + length;
            payload += length;
            if (messageLength >= 0 && payload >= HANDSHAKE_HEADER + messageLength) {
                return complete(cumulation, base);
            }
        }
        if (available > maxBytes) {
            return refuse(Refusal.TOO_LARGE);
        }
        return status;
    }

    private static Refusal checkFirstBytes(ByteBuf buf, int base, int available) {
        int first = buf.getUnsignedByte(base);
        if (first == CONTENT_HANDSHAKE) {
            return null;
        }
        // SSLv2 record header: high bit set on a 2-byte length, then message type 1 (CLIENT-HELLO).
        if ((first & 0x80) != 0) {
            if (available < 3) {
                return null; // the third byte decides; judging earlier made the refusal depend on segmentation
            }
            if (buf.getUnsignedByte(base + 2) == 1) {
                return Refusal.SSLV2;
            }
        }
        return Refusal.NOT_HANDSHAKE;
    }

    /**
     * Checks the message type once its byte is in and learns the message length once the 4-byte
     * header is; the header may continue into the record at {@code partial} that is still arriving.
     */
    private Refusal readHandshakeHeader(ByteBuf buf, int base, int partial, int arrived) {
        if (payloadByte(buf, base, partial, 0) != HANDSHAKE_CLIENT_HELLO) {
            return Refusal.NOT_CLIENT_HELLO;
        }
        if (payload + arrived < HANDSHAKE_HEADER) {
            return null;
        }
        messageLength = payloadByte(buf, base, partial, 1) << 16
                | payloadByte(buf, base, partial, 2) << 8
                | payloadByte(buf, base, partial, 3);
        if (minimumFlight(messageLength) > maxBytes) {
            return Refusal.TOO_LARGE;
        }
        if (messageLength < 2 + 32 + 1 + 2 + 1) {
            return Refusal.BAD_LENGTH;
        }
        return null;
    }

    /** The fewest bytes a flight carrying this message can take: every 16 KiB of it needs a record header. */
    private static long minimumFlight(int messageLength) {
        long handshake = HANDSHAKE_HEADER + (long) messageLength;
        long records = (handshake + MAX_RECORD_PAYLOAD - 1) / MAX_RECORD_PAYLOAD;
        return handshake + records * RECORD_HEADER;
    }

    private Status complete(ByteBuf buf, int base) {
        int end = HANDSHAKE_HEADER + messageLength;
        try {
            if (recordCount == 1 || records[1] >= end) {
                // The whole message sits in the first record: parse it where it lies.
                int start = base + records[0] + HANDSHAKE_HEADER;
                serverName = ClientHelloBody.serverName(buf, start, start + messageLength);
            } else {
                byte[] body = new byte[messageLength];
                copyPayload(buf, base, HANDSHAKE_HEADER, body);
                serverName = ClientHelloBody.serverName(Unpooled.wrappedBuffer(body), 0, messageLength);
            }
        } catch (ClientHelloBody.MalformedHelloException e) {
            return refuse(e.refusal());
        }
        // Trailing bytes in the last record after the hello belong to the stream and are forwarded with it.
        status = Status.COMPLETE;
        return status;
    }

    private Status refuse(Refusal r) {
        refusal = r;
        status = Status.REFUSED;
        return status;
    }

    private void addRecord(int offset, int length) {
        if (recordCount * 2 == records.length) {
            records = java.util.Arrays.copyOf(records, records.length * 2);
        }
        records[recordCount * 2] = offset;
        records[recordCount * 2 + 1] = length;
        recordCount++;
    }

    /**
     * The payload byte at handshake-stream index {@code i}, across the complete records and then
     * the record whose payload starts at reader-relative {@code partial} (the caller knows it is there).
     */
    private int payloadByte(ByteBuf buf, int base, int partial, int i) {
        for (int r = 0; r < recordCount; r++) {
            int len = records[r * 2 + 1];
            if (i < len) {
                return buf.getUnsignedByte(base + records[r * 2] + i);
            }
            i -= len;
        }
        return buf.getUnsignedByte(base + partial + i);
    }

    private void copyPayload(ByteBuf buf, int base, int from, byte[] dst) {
        int written = 0;
        int skip = from;
        for (int r = 0; r < recordCount && written < dst.length; r++) {
            int off = records[r * 2];
            int len = records[r * 2 + 1];
            if (skip >= len) {
                skip -= len;
                continue;
            }
            int n = Math.min(len - skip, dst.length - written);
            buf.getBytes(base + off + skip, dst, written, n);
            written += n;
            skip = 0;
        }
    }

    /** The server name as a String (ASCII), used by the body parser. */
    static String ascii(ByteBuf buf, int index, int length) {
        return buf.toString(index, length, StandardCharsets.US_ASCII);
    }
}
