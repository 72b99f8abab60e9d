package io.meshgate.gateway.h2;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2ResetFrame;

/**
 * The only handler of a stream the gateway opened on a pooled h2 connection: hands everything the
 * endpoint sends on it, its writability and its end to the downstream exchange it serves (an h2
 * stream, {@link StreamProxy}, or an HTTP/1.1 request, {@link Http1ToH2}).
 */
final class UpstreamStream extends ChannelInboundHandlerAdapter {

    /** The downstream side of an upstream stream; every call names the stream channel it came from. */
    interface Receiver {
        void fromUpstream(Channel from, Object msg);

        void upstreamReset(Channel from, Http2ResetFrame reset);

        void upstreamReadComplete();

        void upstreamWritabilityChanged(Channel from);

        void upstreamClosed(Channel from);
    }

    private final Receiver downstream;

    UpstreamStream(Receiver downstream) {
        this.downstream = downstream;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        downstream.fromUpstream(ctx.channel(), msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame reset) {
            downstream.upstreamReset(ctx.channel(), reset);
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        downstream.upstreamReadComplete();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        downstream.upstreamWritabilityChanged(ctx.channel());
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        downstream.upstreamClosed(ctx.channel());
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close(); // the stream is reset; channelInactive tells the downstream
    }
}
