package io.meshgate.gateway.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.UnixChannel;
import java.io.IOException;
import java.nio.ByteBuffer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers the end of a spliced stream that Netty leaves behind. Under splice, Netty 4.2.18 shuts
 * a channel's input as soon as it has seen EPOLLRDHUP after one splice round, which moves at most
 * a pipe's worth (64 KiB); whatever else the peer sent before its FIN is still queued in the
 * socket (Linux keeps it readable after SHUT_RD) but Netty no longer reads it, so the stream would
 * be cut short.
 *
 * <p>This reads that queue to its end at once and queues it on the other side, then the FIN.
 * At once, not paced by writability: Netty itself may close the source channel a moment later
 * (its splice re-enables reading on the input-shut channel when a pending splice write completes,
 * which epoll refuses), and the tail must already be on its way by then. The memory this takes is
 * bounded by the socket's receive queue, because the FIN arrived after every byte before it.
 */
final class SplicedTail {

    private static final Logger log = LoggerFactory.getLogger(SplicedTail.class);
    private static final int CHUNK = 64 * 1024;

    private SplicedTail() {}

    static void drain(Channel from, Channel to, ChannelFutureListener then) {
        long drained = forward(((UnixChannel) from).fd(), to);
        if (drained > 0) {
            log.debug("{}: forwarded a spliced stream's tail of {} bytes", from, drained);
        }
        to.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(then);
    }

    /**
     * Reads {@code fd} (a socket or a pipe, non-blocking) until it has nothing queued or is at its
     * end, in buffers of up to 64 KiB, each queued on {@code to} (not flushed); returns the bytes
     * queued. A failed read (a reset) ends it like the end of stream: nothing more to take.
     */
    static long forward(FileDescriptor fd, Channel to) {
        long total = 0;
        while (true) {
            ByteBuf buf = to.alloc().directBuffer(CHUNK);
            int n;
            try {
                ByteBuffer nio = buf.internalNioBuffer(0, CHUNK);
                n = fd.read(nio, nio.position(), nio.limit());
            } catch (IOException e) {
                n = -1;
            }
            if (n <= 0) { // -1: end of stream (or a reset); 0: nothing queued
                buf.release();
                return total;
            }
            buf.writerIndex(n);
            total += n;
            to.write(buf, to.voidPromise());
        }
    }
}
