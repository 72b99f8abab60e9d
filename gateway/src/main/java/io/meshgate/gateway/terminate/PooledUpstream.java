package io.meshgate.gateway.terminate;

import io.meshgate.routing.Endpoint;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.SslCloseCompletionEvent;
import io.netty.util.ReferenceCountUtil;

/**
 * One pooled HTTP/1.1 upstream connection, and the last handler of its pipeline: hands what the
 * endpoint sends to the exchange currently using the connection. Between exchanges nothing is
 * expected; anything that arrives then (or a close) makes the connection unusable, and it leaves
 * the pool as it closes.
 */
final class PooledUpstream extends ChannelInboundHandlerAdapter {

    /** The downstream side of an exchange, told about everything that happens upstream. */
    interface Exchange {
        void fromUpstream(Object msg);

        void upstreamReadComplete();

        void upstreamWritabilityChanged(boolean writable);

        /** The connection closed or failed while the exchange used it. */
        void upstreamFailed(Throwable cause);
    }

    private final Channel channel;
    private final Endpoint endpoint;
    private final String serverName;
    private Exchange exchange;
    private int uses;

    PooledUpstream(Channel channel, Endpoint endpoint, String serverName) {
        this.channel = channel;
        this.endpoint = endpoint;
        this.serverName = serverName;
    }

    Channel channel() {
        return channel;
    }

    Endpoint endpoint() {
        return endpoint;
    }

    String serverName() {
        return serverName;
    }

    /** How many exchanges have used this connection before the current one. */
    int uses() {
        return uses;
    }

    void reused() {
        uses++;
    }

    /** Binds the connection to an exchange (null: back to idle). */
    void exchange(Exchange e) {
        this.exchange = e;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (exchange == null) {
            ReferenceCountUtil.release(msg);
            ctx.close(); // an answer nobody asked for: the connection is out of step
            return;
        }
        exchange.fromUpstream(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (exchange != null) {
            exchange.upstreamReadComplete();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (exchange != null) {
            exchange.upstreamWritabilityChanged(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent || evt instanceof SslCloseCompletionEvent) {
            // The endpoint is done with this connection (idle timeout, shutdown): it leaves the pool.
            // A response still in flight was cut short; one delimited by the close has ended already.
            ctx.close();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        Exchange e = exchange;
        exchange = null;
        if (e != null) {
            e.upstreamFailed(null);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Exchange e = exchange;
        exchange = null;
        if (e != null) {
            e.upstreamFailed(cause);
        }
        ctx.close();
    }
}
