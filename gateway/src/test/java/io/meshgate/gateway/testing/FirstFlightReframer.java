package io.meshgate.gateway.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import java.io.ByteArrayOutputStream;
import java.util.concurrent.TimeUnit;

/**
 * Sits on the network side of a client's SslHandler and re-frames its first write (the
 * ClientHello record) the way hostile or unusual networks deliver it: the handshake message cut
 * into records of given sizes, and/or written in tiny TCP writes with pauses between them.
 * Later writes pass through untouched (after the first flight is out, in order).
 */
public final class FirstFlightReframer extends ChannelOutboundHandlerAdapter {

    private final int[] recordSizes;
    private final int writeSize;
    private boolean done;

    /**
     * @param recordSizes sizes of the records to cut the handshake message into (the last size repeats); null keeps the records
     * @param writeSize   bytes per TCP write (0: one write)
     */
    public FirstFlightReframer(int[] recordSizes, int writeSize) {
        this.recordSizes = recordSizes;
        this.writeSize = writeSize;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (done || !(msg instanceof ByteBuf buf)) {
            ctx.write(msg, promise);
            return;
        }
        done = true;
        byte[] wire = new byte[buf.readableBytes()];
        buf.readBytes(wire);
        buf.release();
        byte[] flight = recordSizes == null ? wire : reframe(wire, recordSizes);
        if (writeSize <= 0) {
            ctx.writeAndFlush(Unpooled.wrappedBuffer(flight), promise);
            return;
        }
        writeSlowly(ctx, flight, 0, promise);
    }

    private void writeSlowly(ChannelHandlerContext ctx, byte[] flight, int offset, ChannelPromise promise) {
        int n = Math.min(writeSize, flight.length - offset);
        boolean last = offset + n >= flight.length;
        ctx.writeAndFlush(Unpooled.wrappedBuffer(flight, offset, n), last ? promise : ctx.voidPromise());
        if (!last) {
            ctx.executor().schedule(() -> writeSlowly(ctx, flight, offset + n, promise), 200, TimeUnit.MICROSECONDS);
        }
    }

    /** Re-frames TLS handshake records: concatenates their payloads and cuts them anew. */
    public static byte[] reframe(byte[] wire, int... sizes) {
        ByteArrayOutputStream payload = new ByteArrayOutputStream();
        int i = 0;
        int version = 0x0301;
        while (i + 5 <= wire.length) {
            version = (wire[i + 1] & 0xff) << 8 | (wire[i + 2] & 0xff);
            int len = (wire[i + 3] & 0xff) << 8 | (wire[i + 4] & 0xff);
            payload.write(wire, i + 5, len);
            i += 5 + len;
        }
        byte[] p = payload.toByteArray();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int k = 0;
        for (int off = 0; off < p.length; k++) {
            int size = Math.min(sizes[Math.min(k, sizes.length - 1)], p.length - off);
            out.write(22);
            out.write(version >> 8);
            out.write(version);
            out.write(size >> 8);
            out.write(size);
            out.write(p, off, size);
            off += size;
        }
        return out.toByteArray();
    }

}
