package io.meshgate.gateway.relay;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;

/**
 * One direction of a relay, installed on the channel bytes come from. Forwards reads to the peer
 * (copy mode), stops reading while the peer cannot take more (backpressure through autoRead and
 * writability, so a slow reader never makes the gateway buffer unboundedly), propagates a
 * half-close after everything before it was written, and closes both sides on error.
 */
final class RelayHandler extends ChannelInboundHandlerAdapter {

    private final Channel peer;
    private final boolean manageAutoRead;

    /** @param manageAutoRead false under splice, where Netty drives autoRead itself */
    RelayHandler(Channel peer, boolean manageAutoRead) {
        this.peer = peer;
        this.manageAutoRead = manageAutoRead;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        peer.write(msg, peer.voidPromise());
        if (manageAutoRead && !peer.isWritable()) {
            ctx.channel().config().setAutoRead(false);
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
            peer.config().setAutoRead(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            Channel self = ctx.channel();
            // Everything read before the FIN is queued on the peer: write it, then pass the FIN on.
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener((ChannelFutureListener) written -> {
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
        // The other side may still have bytes queued for the peer: deliver them, then close.
        if (peer.isActive()) {
            peer.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
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
