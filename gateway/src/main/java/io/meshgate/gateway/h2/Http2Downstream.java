package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.routing.AppProtocol;
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
 * and what serves the streams, chosen by the protocol of the connection's route (its SNI, fixed for
 * the connection: {@code :authority} is not re-routed):
 * <ul>
 *   <li>{@code http2}/{@code grpc}: {@link StreamRelay}, one handler for the connection that relays
 *       every stream's frames to a stream of a pooled h2 upstream connection ({@link DownstreamStream}),
 *       with no child channel, pipeline or promise per stream: relaying frames needs none;</li>
 *   <li>{@code http}: Netty's multiplexer, a child channel per stream ({@link StatusMeter},
 *       {@link BridgedStream}), because the HTTP/1.1 proxy that serves it is a channel handler and
 *       takes the stream through Netty's frame-to-object codec, which needs the stream's own pipeline.</li>
 * </ul>
 * Each stage refuses a stream whose service changed to the other kind since the handshake and
 * drains the connection. The handler order is in {@link Http2Names}.
 */
public final class Http2Downstream {

    private Http2Downstream() {}

    /** Installs the h2 stage after {@code after} in the verified connection's pipeline. */
    public static void install(ChannelPipeline p, String after, Connection connection, Http2Termination h2,
                               String forwardedClientCert) {
        // Nothing failed if a verified caller leaves before its first stream.
        connection.outcomeIfClosed(Outcome.ROUTED);
        Http2FrameCodec codec = h2.limits().serverCodec();
        ConnectionGuard guard = new ConnectionGuard(connection, h2, codec);
        p.addAfter(after, Http2Names.FLUSH, Http2Names.flushConsolidation())
                .addAfter(Http2Names.FLUSH, Http2Names.COALESCE, new FrameCoalescer())
                .addAfter(Http2Names.COALESCE, Http2Names.CODEC, codec)
                .addAfter(Http2Names.CODEC, Http2Names.GUARD, guard);
        if (connection.route() != null && connection.route().protocol() == AppProtocol.HTTP) {
            OpenStreams streams = OpenStreams.of(p.channel());
            p.addAfter(Http2Names.GUARD, Http2Names.STREAMS, new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                        @Override
                        protected void initChannel(Http2StreamChannel ch) {
                            streams.add(ch);
                            ch.pipeline().addLast(Http2Names.METER, new StatusMeter(h2.metrics()))
                                    .addLast(Http2Names.PROXY, new BridgedStream(connection, h2, forwardedClientCert, guard));
                        }
                    }))
                    .addAfter(Http2Names.STREAMS, Http2Names.END, END);
        } else {
            p.addAfter(Http2Names.GUARD, Http2Names.RELAY, new StreamRelay(connection, h2, forwardedClientCert, guard,
                    codec.connection()));
        }
        Http2Names.widenConnectionWindow(codec, h2.limits().initialConnectionWindow());
        h2.limits().limitUnsentBytes(p.channel());
    }

    /** Swallows what reaches the end of a multiplexed h2 connection's pipeline: Netty has acted on it already. */
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
