package io.meshgate.gateway.listener;

import io.meshgate.gateway.relay.IdleTimeout;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.gateway.relay.TrafficMeter;
import io.meshgate.routing.Router;
import io.netty.channel.socket.SocketChannel;

/**
 * The passthrough and egress pipelines, in the order documented in {@link MeshgateHandlerNames}:
 * ClientHello (SNI) → route → connect (endpoint pick) → relay. They differ in the route stage
 * only: passthrough routes to local endpoints, egress also to other clusters' gateways.
 */
public final class PassthroughPipeline implements DownstreamPipeline {

    /** Null for passthrough. */
    private final Router.EgressPolicy egress;
    /** Runs the listener's connections without Netty channels where it can; null: always this pipeline. */
    private final DirectPath direct;

    private PassthroughPipeline(Router.EgressPolicy egress, DirectPath direct) {
        this.egress = egress;
        this.direct = direct;
    }

    /** {@code mode: passthrough}: local endpoints only. */
    public static PassthroughPipeline passthrough() {
        return new PassthroughPipeline(null, null);
    }

    /** {@code mode: egress}: local endpoints, else a remote cluster's east-west gateway by {@code policy} (SNI unchanged). */
    public static PassthroughPipeline egress(Router.EgressPolicy policy) {
        return new PassthroughPipeline(java.util.Objects.requireNonNull(policy), null);
    }

    /**
     * This pipeline, for a listener whose connections run without Netty channels where
     * {@code path} can take them ({@code runtime.directPassthrough}); these handlers serve where
     * it cannot (null: always these handlers).
     */
    public PassthroughPipeline direct(DirectPath path) {
        return new PassthroughPipeline(egress, path);
    }

    /** The channel-free path for the listener's connections; null: none. */
    public DirectPath direct() {
        return direct;
    }

    @Override
    public void assemble(SocketChannel ch, Connection connection) {
        ListenerContext listener = connection.listener();
        IdleTimeout idle = new IdleTimeout(ch, listener.limits().idleTimeout());
        // Set before anything is written: it meters every byte sent downstream, spliced or copied.
        ch.config().setMessageSizeEstimator(new TrafficMeter(listener.metrics().bytesToDownstream(), listener.metrics().splicedToDownstream(), idle,
                listener.accessLog().enabled()));
        ch.pipeline()
                .addLast(MeshgateHandlerNames.CLIENT_HELLO, new ClientHelloHandler(connection))
                .addLast(MeshgateHandlerNames.ROUTE, egress != null ? RouteSelector.egress(connection, egress) : RouteSelector.eastWest(connection))
                .addLast(MeshgateHandlerNames.CONNECT, new UpstreamConnector(connection, idle));
    }
}
