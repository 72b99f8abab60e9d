package io.meshgate.gateway.testing;

import io.meshgate.tls.testing.ClientHellos;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/** Edits of a real ClientHello for gateway tests: padded to any size, or broken in one field. */
public final class Hellos {

    private Hellos() {}

    /**
     * The same hello grown to about {@code size} bytes of handshake message by a padding
     * extension (RFC 7685), re-framed into records of at most 16 KiB.
     */
    public static byte[] padded(byte[] wire, int size) {
        byte[] msg = ClientHellos.unframe(wire);
        int extLenAt = extensionsLengthOffset(msg);
        int pad = Math.max(0, size - msg.length - 4);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(msg, 0, msg.length);
        out.write(0x00);
        out.write(0x15); // padding
        out.write(pad >> 8);
        out.write(pad);
        out.write(new byte[pad], 0, pad);
        byte[] grown = out.toByteArray();
        int ext = ((grown[extLenAt] & 0xff) << 8 | (grown[extLenAt + 1] & 0xff)) + 4 + pad;
        grown[extLenAt] = (byte) (ext >> 8);
        grown[extLenAt + 1] = (byte) ext;
        int body = grown.length - 4;
        grown[1] = (byte) (body >> 16);
        grown[2] = (byte) (body >> 8);
        grown[3] = (byte) body;
        return ClientHellos.frame(grown, 16384);
    }

    /** The hello with its handshake type changed (e.g. 2 = ServerHello). */
    public static byte[] withHandshakeType(byte[] wire, int type) {
        byte[] copy = wire.clone();
        copy[5] = (byte) type;
        return copy;
    }

    /** The hello with its extensions length off by one (inner lengths inconsistent). */
    public static byte[] withBadExtensionsLength(byte[] wire) {
        byte[] msg = ClientHellos.unframe(wire);
        int at = extensionsLengthOffset(msg);
        int ext = ((msg[at] & 0xff) << 8 | (msg[at + 1] & 0xff)) + 1;
        msg[at] = (byte) (ext >> 8);
        msg[at + 1] = (byte) ext;
        return ClientHellos.frame(msg, 16384);
    }

    private static int extensionsLengthOffset(byte[] msg) {
        int i = 4 + 2 + 32;
        i += 1 + (msg[i] & 0xff);
        i += 2 + ((msg[i] & 0xff) << 8 | (msg[i + 1] & 0xff));
        i += 1 + (msg[i] & 0xff);
        return i;
    }

    public static byte[] first(byte[] b, int n) {
        return Arrays.copyOf(b, n);
    }
}
