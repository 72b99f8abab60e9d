package io.meshgate.gateway.h2;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.List;

/**
 * Copies the frames the h2 codec writes between two of its flushes into one buffer, written on at
 * the flush with one promise. The codec writes every frame as two or more buffers with a promise
 * each (frame header, payload); the TLS handler after it queues each with a listener of its own and
 * chains them all to the record it builds, about 6 % of an h2 connection's CPU in promise
 * bookkeeping. Here a frame costs a copy into the open buffer (which the TLS handler would have
 * made when it coalesced them) and a slot in a list; the promises are completed together once the
 * combined write is. A buffer that has reached {@link #MAX_BYTES} goes on at once (without a
 * flush), so a burst of DATA is handed over in pieces of a few TLS records. Anything that is not a
 * buffer passes through after what is open. Confined to the channel's event loop.
 */
final class FrameCoalescer extends ChannelOutboundHandlerAdapter {

    /** Four TLS records' worth of plaintext. */
    static final int MAX_BYTES = 64 * 1024;
    private static final int INITIAL_BYTES = 2048;

    private ByteBuf open;
    /** The promises of the frames in {@link #open} (void ones are not kept). */
    private List<ChannelPromise> promises = new ArrayList<>();

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!(msg instanceof ByteBuf buf)) {
            writeOpen(ctx);
            ctx.write(msg, promise);
            return;
        }
        try {
            int bytes = buf.readableBytes();
            if (open == null) {
                open = ctx.alloc().directBuffer(Math.max(INITIAL_BYTES, Math.min(bytes, MAX_BYTES)));
            }
            open.writeBytes(buf, buf.readerIndex(), bytes);
        } catch (RuntimeException e) {
            ReferenceCountUtil.release(msg);
            promise.tryFailure(e);
            return;
        }
        buf.release();
        if (!promise.isVoid()) {
            promises.add(promise);
        }
        if (open.readableBytes() >= MAX_BYTES) {
            writeOpen(ctx);
        }
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        writeOpen(ctx);
        ctx.flush();
    }

    /** Hands the open buffer on with one promise that completes the frames' promises. */
    private void writeOpen(ChannelHandlerContext ctx) {
        if (open == null) {
            return;
        }
        ByteBuf out = open;
        open = null;
        if (promises.isEmpty()) {
            ctx.write(out, ctx.voidPromise());
            return;
        }
        List<ChannelPromise> waiting = promises;
        promises = new ArrayList<>(Math.max(4, waiting.size()));
        ctx.write(out).addListener(f -> {
            Throwable cause = f.cause();
            for (int i = 0; i < waiting.size(); i++) {
                if (cause == null) {
                    waiting.get(i).trySuccess();
                } else {
                    waiting.get(i).tryFailure(cause);
                }
            }
        });
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) {
        // What the codec wrote before it closes (a GOAWAY) still goes out, as with the TLS handler's queue.
        writeOpen(ctx);
        ctx.close(promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        discard(new ClosedChannelException());
    }

    private void discard(Throwable cause) {
        if (open != null) {
            open.release();
            open = null;
        }
        for (ChannelPromise p : promises) {
            p.tryFailure(cause);
        }
        promises.clear();
    }
}
