package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.outcome.Outcome;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;

/**
 * The h2 service stage of a terminate listener, installed after a handshake that negotiated ALPN
 * {@code h2}: Netty's frame codec (the listener's SETTINGS and abuse limits), the connection guard,
 * and the multiplexer that gives every stream its own child channel with a {@link StreamProxy}.
 * Child channels (rather than one {@code Http2ConnectionHandler} listener for the connection) give
 * each stream its own pipeline, autoRead and writability, which is what per-stream routing and
 * per-stream backpressure need; it is the model of Netty's own h2 examples and reactor-netty.
 */
public final class Http2Downstream {

    private Http2Downstream() {}

    /** Installs the h2 stage after {@code after} in the verified connection's pipeline. */
    public static void install(ChannelPipeline p, String after, Connection connection, Http2Termination h2,
                               String forwardedClientCert) {
        // Nothing failed if a verified caller leaves before its first stream.
        connection.outcomeIfClosed(Outcome.ROUTED);
        Http2FrameCodec codec = h2.limits().serverCodec();
        OpenStreams streams = OpenStreams.of(p.channel());
        p.addAfter(after, Http2Names.FLUSH, Http2Names.flushConsolidation())
                .addAfter(Http2Names.FLUSH, Http2Names.CODEC, codec)
                .addAfter(Http2Names.CODEC, Http2Names.GUARD, new ConnectionGuard(connection, h2, codec))
                .addAfter(Http2Names.GUARD, Http2Names.STREAMS, new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                    @Override
                    protected void initChannel(Http2StreamChannel ch) {
                        streams.add(ch);
                        ch.pipeline().addLast(Http2Names.METER, new StatusMeter(h2.metrics()))
                                .addLast(Http2Names.PROXY, new StreamProxy(connection, h2, forwardedClientCert));
                    }
                }))
                .addAfter(Http2Names.STREAMS, Http2Names.END, END);
        Http2Names.widenConnectionWindow(codec, h2.limits().initialConnectionWindow());
        h2.limits().limitUnsentBytes(p.channel());
    }

    /** Swallows what reaches the end of an h2 connection's pipeline: Netty has acted on it already. */
    private static final ChannelHandler END = new End();

    @ChannelHandler.Sharable
    private static final class End extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            io.netty.util.ReferenceCountUtil.release(msg); // SETTINGS, PING, GOAWAY after the codec acted on them
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
