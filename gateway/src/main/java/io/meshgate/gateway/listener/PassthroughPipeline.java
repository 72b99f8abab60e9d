package io.meshgate.gateway.listener;

import io.meshgate.gateway.relay.IdleTimeout;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.gateway.relay.TrafficMeter;
import io.netty.channel.socket.SocketChannel;

/**
 * The passthrough and egress pipelines, in the order documented in {@link MeshgateHandlerNames}:
 * ClientHello (SNI) → route → connect (endpoint pick) → relay. They differ in the route stage
 * only: passthrough routes to local endpoints, egress also to other clusters' gateways.
 */
public final class PassthroughPipeline implements DownstreamPipeline {

    private final boolean egress;

    private PassthroughPipeline(boolean egress) {
        this.egress = egress;
    }

    /** {@code mode: passthrough}: local endpoints only. */
    public static PassthroughPipeline passthrough() {
        return new PassthroughPipeline(false);
    }

    /** {@code mode: egress}: local endpoints, else a remote cluster's east-west gateway (SNI unchanged). */
    public static PassthroughPipeline egress() {
        return new PassthroughPipeline(true);
    }

    @Override
    public void assemble(SocketChannel ch, Connection connection) {
        ListenerContext listener = connection.listener();
        IdleTimeout idle = new IdleTimeout(ch, listener.idleTimeout());
        // Set before anything is written: it meters every byte sent downstream, spliced or copied.
        ch.config().setMessageSizeEstimator(new TrafficMeter(listener.metrics().bytesToDownstream(), listener.metrics().splicedToDownstream(), idle));
        ch.pipeline()
                .addLast(MeshgateHandlerNames.CLIENT_HELLO, new ClientHelloHandler(connection))
                .addLast(MeshgateHandlerNames.ROUTE, egress ? RouteSelector.egress(connection) : RouteSelector.eastWest(connection))
                .addLast(MeshgateHandlerNames.CONNECT, new UpstreamConnector(connection, idle));
    }
}
