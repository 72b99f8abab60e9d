package io.meshgate.gateway.h2;

import io.meshgate.routing.Endpoint;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * One pooled h2 connection to an endpoint, and the last handler of its pipeline: counts the
 * streams the gateway opened on it, stops taking new ones once the endpoint sent GOAWAY (or the
 * connection is closing) and closes itself when such a connection has no stream left, as
 * Armeria's and reactor-netty's h2 pools do. Confined to its event loop.
 */
final class H2Upstream extends ChannelInboundHandlerAdapter {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(H2Upstream.class);

    private final Channel channel;
    private final Endpoint endpoint;
    private final Http2FrameCodec codec;
    private final int maxStreams;
    private final Http2Metrics metrics;
    private final Consumer<H2Upstream> retired;
    private int streams;
    private boolean goingAway;

    H2Upstream(Channel channel, Endpoint endpoint, Http2FrameCodec codec, int maxStreams, Http2Metrics metrics,
               Consumer<H2Upstream> retired) {
        this.channel = channel;
        this.endpoint = endpoint;
        this.codec = codec;
        this.maxStreams = maxStreams;
        this.metrics = metrics;
        this.retired = retired;
    }

    Endpoint endpoint() {
        return endpoint;
    }

    Channel channel() {
        return channel;
    }

    /** Whether a new stream may go on this connection now. */
    boolean hasCapacity() {
        return !goingAway && channel.isActive() && !codec.connection().goAwayReceived()
                && streams < Math.min(maxStreams, codec.connection().local().maxActiveStreams());
    }

    /** Reserves a stream (counted at once, so callers waiting on the same loop see the slot taken). */
    void reserve() {
        streams++;
        metrics.upstreamStreams().incrementAndGet();
    }

    /** Opens the reserved stream with {@code handler}; the reservation ends when the stream channel closes. */
    Future<Http2StreamChannel> open(ChannelHandler handler) {
        Future<Http2StreamChannel> f = new Http2StreamChannelBootstrap(channel).handler(handler).open();
        f.addListener((Future<Http2StreamChannel> opened) -> {
            if (opened.isSuccess()) {
                opened.getNow().closeFuture().addListener(c -> release());
            } else {
                release();
            }
        });
        return f;
    }

    /** Gives back a reservation that never became a stream. */
    void release() {
        streams--;
        metrics.upstreamStreams().decrementAndGet();
        if (streams == 0 && (goingAway || codec.connection().goAwayReceived())) {
            channel.close();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2GoAwayFrame goAway) {
            metrics.goAwayReceived();
            if (log.isDebugEnabled()) {
                log.debug("endpoint {} sent GOAWAY ({}, last stream {}): no new streams on this connection", endpoint,
                        goAway.errorCode(), goAway.lastStreamId());
            }
            retire();
        }
        ReferenceCountUtil.release(msg); // SETTINGS, PING acks and GOAWAY end here; the codec acted on them
    }

    /** No new streams; the connection closes once its last stream does. */
    private void retire() {
        if (!goingAway) {
            goingAway = true;
            retired.accept(this);
        }
        if (streams == 0) {
            channel.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        goingAway = true;
        retired.accept(this);
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (log.isDebugEnabled()) {
            log.debug("h2 connection to {} failed: {}", endpoint, cause.toString());
        }
        ctx.close();
    }
}
