package io.meshgate.gateway.listener;

import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.upstream.Route;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.RouteError;
import io.meshgate.routing.Router;
import java.util.concurrent.ThreadLocalRandom;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

/**
 * Stage 2: turns the SNI into the {@link Route} the connection may use now (its upstream
 * candidates, each with its cluster), from the router's current snapshot (one lock-free lookup). An SNI that names nothing routable closes the connection
 * ({@code no_route}; on a terminating listener after the {@code unrecognized_name} alert) and the
 * buffered hello is dropped, never forwarded. East-west listeners
 * route to local endpoints only (that prevents loops between gateways); egress listeners may
 * hand the connection to another cluster's east-west gateway.
 */
public final class RouteSelector extends ChannelInboundHandlerAdapter {

    private final Connection connection;
    /** Null on east-west listeners. */
    private final Router.EgressPolicy egress;
    /** Whether a refused caller hears {@code unrecognized_name}: the gateway is the TLS server (terminate mode). */
    private final boolean alert;

    private RouteSelector(Connection connection, Router.EgressPolicy egress, boolean alert) {
        this.connection = connection;
        this.egress = egress;
        this.alert = alert;
    }

    /** Local endpoints only (passthrough listeners): a refused connection is closed, as a TCP proxy does. */
    public static RouteSelector eastWest(Connection connection) {
        return new RouteSelector(connection, null, false);
    }

    /**
     * Local endpoints only, for a listener that terminates TLS: a caller whose server name routes
     * nowhere gets the {@code unrecognized_name} alert before the connection closes, so its TLS
     * stack names the problem instead of reporting a dropped connection.
     */
    public static RouteSelector terminating(Connection connection) {
        return new RouteSelector(connection, null, true);
    }

    /** Local endpoints, else other clusters' east-west gateways by {@code policy} ({@code discovery.egressPolicy}). */
    public static RouteSelector egress(Connection connection, Router.EgressPolicy policy) {
        return new RouteSelector(connection, java.util.Objects.requireNonNull(policy), false);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ClientHelloHandler.ServerNameEvent sni) {
            Resolution r = resolve(sni.serverName());
            Route route = Route.of(r);
            if (route != null) {
                connection.route(route);
                ctx.pipeline().remove(this);
            } else {
                String code = r instanceof Resolution.Refused refused ? refused.error().code() : "no-route";
                connection.listener().metrics().routeRefusals().refused(connection.listener().name(), ctx.channel().remoteAddress(),
                        sni.serverName(), null, Outcome.NO_ROUTE.label(), code);
                if (alert) {
                    ctx.writeAndFlush(TlsAlert.UNRECOGNIZED_NAME.record());
                }
                connection.refuse(Outcome.NO_ROUTE);
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    private Resolution resolve(String serverName) {
        ListenerContext listener = connection.listener();
        if (egress == null) {
            return listener.router().resolve(serverName);
        }
        return OutboundSni.parse(serverName)
                .map(o -> listener.router().resolveEgress(o, egress, ThreadLocalRandom.current()))
                .orElse(Resolution.refused(RouteError.BAD_SNI));
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        // Only reached when the route was refused: the bytes go nowhere.
        ReferenceCountUtil.release(msg);
    }
}
