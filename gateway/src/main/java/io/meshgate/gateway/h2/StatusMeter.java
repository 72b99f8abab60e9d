package io.meshgate.gateway.h2;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;

/**
 * First handler of every stream channel (downstream h2 connections to {@code http} services):
 * counts the stream once in {@code meshgate_http_requests_total{protocol="h2"}} by the status class
 * of the final response written to it, or as {@code reset} when it ends without one, whichever
 * path (HTTP/1.1 bridge, the gateway's own answer) produced it.
 */
final class StatusMeter extends ChannelOutboundHandlerAdapter {

    private final Http2Metrics metrics;
    private boolean counted;

    StatusMeter(Http2Metrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!counted) {
            counted = count(metrics, msg);
        }
        ctx.write(msg, promise);
    }

    /**
     * Counts {@code frame}, written to a downstream stream not counted yet, when it decides the
     * stream's answer: a final response's HEADERS by its status class, a RST_STREAM as {@code reset};
     * true when it did (shared with the connection-level relay's {@link DownstreamStream}).
     */
    static boolean count(Http2Metrics metrics, Object frame) {
        if (frame instanceof Http2HeadersFrame h && h.headers().status() != null) {
            int status = parse(h.headers().status());
            if (status >= 200) {
                metrics.answered(status);
                return true;
            }
        } else if (frame instanceof Http2ResetFrame) {
            metrics.answered(0);
            return true;
        }
        return false;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (!counted) {
            counted = true;
            metrics.answered(0); // the stream closed (client reset, connection gone) before any answer
        }
    }

    private static int parse(CharSequence status) {
        try {
            return Integer.parseInt(status, 0, status.length(), 10);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
