package io.meshgate.gateway.relay;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.handler.ssl.SslHandler;

/**
 * One direction of a relay, installed on the channel bytes come from. Forwards reads to the peer
 * (copy mode), stops reading while the peer cannot take more (backpressure through autoRead and
 * writability, so a slow reader never makes the gateway buffer unboundedly), propagates a
 * half-close after everything before it was written, and closes both sides on error.
 */
final class RelayHandler extends ChannelInboundHandlerAdapter {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(RelayHandler.class);

    /**
     * What still has to reach the peer when a side's input ends, before the FIN is passed on:
     * nothing for the copying relay (Netty read to EOF), the kernel-queued tail under splice.
     */
    interface Tail {
        void forward(Channel from, Channel to, ChannelFutureListener then);
    }

    static final Tail NOTHING_LEFT = (from, to, then) -> {
        // A TLS side (terminate mode) ends its stream with close_notify before the FIN, or peers see a truncation.
        SslHandler tls = to.pipeline().get(SslHandler.class);
        (tls != null ? tls.closeOutbound() : to.writeAndFlush(Unpooled.EMPTY_BUFFER)).addListener(then);
    };

    private final Channel peer;
    private final boolean manageAutoRead;
    private final Tail tail;

    /**
     * @param manageAutoRead false under splice, where Netty drives autoRead itself
     * @param tail           forwards what is left after the input ended
     */
    RelayHandler(Channel peer, boolean manageAutoRead, Tail tail) {
        this.peer = peer;
        this.manageAutoRead = manageAutoRead;
        this.tail = tail;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        peer.write(msg, peer.voidPromise());
        if (manageAutoRead && !peer.isWritable()) {
            Reading.set(ctx.channel(), false);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        peer.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // Our side drained (or filled up): let the peer read again (or pause it).
        if (manageAutoRead) {
            Reading.set(peer, ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            Channel self = ctx.channel();
            log.trace("{}: input shut down, passing the FIN to {}", self, peer);
            // Everything before the FIN must be written to the peer first; then pass the FIN on.
            tail.forward(self, peer, written -> {
                if (!written.isSuccess() || !(peer instanceof DuplexChannel duplex)) {
                    closeBoth(self, peer);
                    return;
                }
                duplex.shutdownOutput().addListener((ChannelFutureListener) shut -> {
                    if (!shut.isSuccess() || outputsShut(self, peer)) {
                        closeBoth(self, peer);
                    }
                });
            });
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        log.trace("{}: inactive, closing {} after its pending writes", ctx.channel(), peer);
        // The other side may still have bytes queued for the peer: deliver them, then close.
        if (peer.isActive()) {
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("{}: {}; closing both sides", ctx.channel(), cause.toString());
        closeBoth(ctx.channel(), peer);
    }

    private static boolean outputsShut(Channel a, Channel b) {
        return a instanceof DuplexChannel da && da.isOutputShutdown()
                && b instanceof DuplexChannel db && db.isOutputShutdown();
    }

    static void closeBoth(Channel a, Channel b) {
        a.close();
        b.close();
    }
}
