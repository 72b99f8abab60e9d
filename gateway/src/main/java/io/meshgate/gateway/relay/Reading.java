package io.meshgate.gateway.relay;

import io.netty.channel.Channel;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.codec.http2.Http2StreamChannel;

/**
 * Turns reading on or off for backpressure, but never on a channel whose input is already shut
 * down: native epoll has unregistered it for reads by then and re-arming fails (ENOENT).
 *
 * <p>An h2 stream channel that resumes is flushed: resuming returns the flow-control window of
 * what the stream read while paused, and Netty writes that WINDOW_UPDATE at once but flushes it
 * only when no read is left in progress on the stream ({@code AbstractHttp2StreamChannel.beginRead};
 * a stream paused from inside its own read keeps one). The peer, its window spent, would wait for
 * it forever (netty#10072 fixed the other paths).
 */
public final class Reading {

    private Reading() {}

    public static void set(Channel ch, boolean read) {
        if (read && (!ch.isOpen() || (ch instanceof DuplexChannel d && d.isInputShutdown()))) {
            return;
        }
        boolean resumed = read && !ch.config().isAutoRead();
        ch.config().setAutoRead(read);
        if (resumed && ch instanceof Http2StreamChannel) {
            ch.flush();
        }
    }
}
