package io.meshgate.gateway.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Delivers the end of a spliced stream that Netty leaves behind. Under splice, Netty 4.2.18 shuts
 * a channel's input as soon as it has seen EPOLLRDHUP after one splice round, which moves at most
 * a pipe's worth (64 KiB); whatever else the peer sent before its FIN is still queued in the
 * socket (Linux keeps it readable after SHUT_RD) but Netty no longer reads it, so the stream would
 * be cut short. This reads that queue to its end and writes it to the other side, one chunk in
 * flight while the other side is not writable, before the relay passes the FIN on. The queue is
 * bounded by the socket's receive buffer, because the FIN arrived after every byte before it.
 */
final class SplicedTail {

    private static final int CHUNK = 64 * 1024;

    private SplicedTail() {}

    static void drain(Channel from, Channel to, ChannelFutureListener then) {
        new Pump(from, to, then).run();
    }

    private static final class Pump {
        private final Channel from;
        private final Channel to;
        private final ChannelFutureListener then;
        private final FileDescriptor fd;

        Pump(Channel from, Channel to, ChannelFutureListener then) {
            this.from = from;
            this.to = to;
            this.then = then;
            this.fd = ((UnixChannel) from).fd();
        }

        void run() {
            while (true) {
                ByteBuf buf = from.alloc().directBuffer(CHUNK);
                int n;
                try {
                    ByteBuffer nio = buf.internalNioBuffer(0, CHUNK);
                    n = fd.read(nio, nio.position(), nio.limit());
                } catch (IOException e) {
                    buf.release();
                    to.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(then); // reset by peer: nothing more to take
                    return;
                }
                if (n <= 0) { // -1: end of stream; 0: nothing queued
                    buf.release();
                    to.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(then);
                    return;
                }
                buf.writerIndex(n);
                ChannelFuture written = to.writeAndFlush(buf);
                if (!to.isWritable()) {
                    written.addListener((ChannelFutureListener) f -> {
                        if (f.isSuccess()) {
                            run();
                        } else {
                            then.operationComplete(f);
                        }
                    });
                    return;
                }
            }
        }
    }
}
