package io.meshgate.gateway.h2;

import io.netty.channel.Channel;
import io.netty.handler.codec.http2.Http2StreamChannel;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;

/**
 * The stream channels of one downstream h2 connection that are still open, closed together when the
 * connection closes. Netty closes a stream channel whose stream ended only once its application has
 * read what the channel queued ({@code AbstractHttp2StreamChannel.streamClosed()} delivers queued
 * frames first, netty#13779); a stream paused for backpressure when its caller's connection goes
 * away would otherwise keep its DATA frames and never tell its handlers, so the upstream stream it
 * feeds would stay open. Closing it releases the queue and fires {@code channelInactive}.
 * Confined to the connection's event loop, which its stream channels share.
 */
final class OpenStreams {

    private final Set<Channel> open = new HashSet<>();

    /** Tracks {@code stream} until it closes, and closes every tracked stream once {@code connection} closes. */
    static OpenStreams of(Channel connection) {
        OpenStreams streams = new OpenStreams();
        connection.closeFuture().addListener(f -> streams.closeAll());
        return streams;
    }

    void add(Http2StreamChannel stream) {
        if (open.add(stream)) {
            stream.closeFuture().addListener(f -> open.remove(stream));
        }
    }

    private void closeAll() {
        for (Channel stream : new ArrayList<>(open)) {
            stream.close(); // the connection is gone: no RST_STREAM, the queue is released
        }
        open.clear();
    }
}
