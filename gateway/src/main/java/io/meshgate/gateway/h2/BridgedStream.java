package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Resolution;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * Routes one stream channel of a downstream h2 connection to an {@code http} service (stage 5 of
 * terminate, h2): its first HEADERS resolves the SNI's route again and, the service still speaking
 * {@code http}, hands the stream to the HTTP/1.1 proxy through {@link Http1Bridge} (which balances
 * every request on its own) and steps aside. A service without endpoints gets the gateway's answer;
 * one that became {@code http2}/{@code grpc} meanwhile is refused (RST_STREAM REFUSED_STREAM, which
 * clients retry) and the connection drained, so the caller reconnects and gets the frame relay
 * ({@link StreamRelay}).
 */
final class BridgedStream extends ChannelInboundHandlerAdapter {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(BridgedStream.class);

    private final Connection connection;
    private final Http2Termination h2;
    private final String forwardedClientCert;
    private final ConnectionGuard guard;
    private boolean started;

    BridgedStream(Connection connection, Http2Termination h2, String forwardedClientCert, ConnectionGuard guard) {
        this.connection = connection;
        this.h2 = h2;
        this.forwardedClientCert = forwardedClientCert;
        this.guard = guard;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (started || !(msg instanceof Http2HeadersFrame frame)) {
            ReferenceCountUtil.release(msg); // the tail of a request the gateway answered
            return;
        }
        started = true;
        Channel stream = ctx.channel();
        Resolution route = connection.listener().router().resolve(connection.serverName());
        if (!(route instanceof Resolution.Routed routed)) {
            boolean grpc = StreamHeaders.isGrpc(frame.headers());
            boolean requestDone = frame.isEndStream();
            ReferenceCountUtil.release(frame);
            String why = "no healthy endpoints for " + connection.serverName();
            log.debug("{} {} answered {}: {}", connection.listener().name(), stream.remoteAddress(),
                    grpc ? "grpc-status " + GrpcAnswers.UNAVAILABLE : 503, why);
            GrpcAnswers.write(stream::write, stream::flush, stream.alloc(), grpc, 503, GrpcAnswers.UNAVAILABLE, why, requestDone);
            return;
        }
        if (routed.endpoints().protocol() != AppProtocol.HTTP) {
            ReferenceCountUtil.release(frame);
            stream.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM));
            guard.serviceChanged("the service now speaks " + routed.endpoints().protocol().name().toLowerCase(java.util.Locale.ROOT) + ", streams refused");
            return;
        }
        Http1Bridge.install(ctx, connection, h2.http1().handler(connection, forwardedClientCert));
        ctx.fireChannelRead(frame);
        ctx.pipeline().remove(this);
    }

    /** Netty delivers RST_STREAM as a user event; the stream channel closes by itself. */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame) {
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (log.isDebugEnabled()) {
            log.debug("{} {} stream failed: {}", connection.listener().name(), ctx.channel().remoteAddress(), cause.toString());
        }
        ctx.close();
    }
}
