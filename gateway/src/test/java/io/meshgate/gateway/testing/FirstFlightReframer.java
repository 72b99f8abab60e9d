package io.meshgate.gateway.testing;

import io.meshgate.tls.testing.ClientHellos;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
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

    /**
     * Re-frames TLS handshake records: concatenates their payloads and cuts them anew, into
     * records of the given sizes; the last size repeats.
     */
    public static byte[] reframe(byte[] wire, int... sizes) {
        byte[] handshake = ClientHellos.unframe(wire);
        int last = sizes[sizes.length - 1];
        int[] leading = java.util.Arrays.copyOf(sizes, sizes.length - 1);
        int used = java.util.Arrays.stream(leading).sum();
        return ClientHellos.concat(ClientHellos.frameSizes(java.util.Arrays.copyOf(handshake, used), leading),
                ClientHellos.frame(java.util.Arrays.copyOfRange(handshake, used, handshake.length), last));
    }

}
