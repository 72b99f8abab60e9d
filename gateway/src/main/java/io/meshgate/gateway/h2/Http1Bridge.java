package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.codec.http2.HttpConversionUtil;

/**
 * Carries an h2 stream to an {@code http} service: Netty's frame-to-object codec turns the stream
 * into one HTTP/1.1 exchange for the terminate listener's HTTP/1.1 proxy (pooled HTTP/1.1 upstreams,
 * XFCC, hop-by-hop rules) and its answer back into HEADERS/DATA/trailers, dropping connection-specific
 * fields. This handler removes the {@code x-http2-*} fields the codec adds, which are no business
 * of the endpoint, and hands a
 * request that came in one HEADERS frame on as head and (empty) last content.
 */
@ChannelHandler.Sharable
final class Http1Bridge extends ChannelInboundHandlerAdapter {

    private static final Http1Bridge INSTANCE = new Http1Bridge();

    private Http1Bridge() {}

    /** Puts the HTTP/1.1 path behind {@code ctx} in a downstream stream's pipeline. */
    static void install(ChannelHandlerContext ctx, Connection connection, ChannelHandler proxy) {
        ctx.pipeline()
                .addAfter(ctx.name(), Http2Names.H1_CODEC, new Http2StreamFrameToHttpObjectCodec(true))
                .addAfter(Http2Names.H1_CODEC, Http2Names.H1_BRIDGE, INSTANCE)
                .addAfter(Http2Names.H1_BRIDGE, MeshgateHandlerNames.HTTP, proxy);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest request) {
            HttpHeaders h = request.headers();
            for (HttpConversionUtil.ExtensionHeaderNames name : HttpConversionUtil.ExtensionHeaderNames.values()) {
                h.remove(name.text());
            }
            if (msg instanceof FullHttpRequest full) {
                // The proxy takes a request as head + content, as HttpServerCodec delivers it.
                ctx.fireChannelRead(new DefaultHttpRequest(full.protocolVersion(), full.method(), full.uri(), full.headers()));
                ctx.fireChannelRead(new DefaultLastHttpContent(full.content(), full.trailingHeaders()));
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }
}
