package io.meshgate.gateway.listener;

import io.meshgate.routing.Resolution;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

/**
 * Stage 2: turns the SNI into the endpoints it may use now, from the router's current snapshot
 * (one lock-free lookup). An SNI that names nothing routable closes the connection
 * ({@code no_route}) and the buffered hello is dropped, never forwarded.
 */
public final class RouteSelector extends ChannelInboundHandlerAdapter {

    private final Connection connection;

    public RouteSelector(Connection connection) {
        this.connection = connection;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ClientHelloHandler.ServerNameEvent sni) {
            Resolution r = connection.listener().router().resolve(sni.serverName());
            if (r instanceof Resolution.Routed routed) {
                connection.endpoints(routed.endpoints());
                ctx.pipeline().remove(this);
            } else {
                connection.refuse(Outcome.NO_ROUTE);
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        // Only reached when the route was refused: the bytes go nowhere.
        ReferenceCountUtil.release(msg);
    }
}
