package io.meshgate.gateway.listener;

import io.meshgate.gateway.relay.IdleTimeout;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.gateway.relay.TrafficMeter;
import io.netty.channel.socket.SocketChannel;

/**
 * The passthrough pipeline, in the order documented in {@link MeshgateHandlerNames}:
 * ClientHello (SNI) → route → connect (endpoint pick) → relay.
 */
public final class PassthroughPipeline implements DownstreamPipeline {

    @Override
    public void assemble(SocketChannel ch, Connection connection) {
        ListenerContext listener = connection.listener();
        IdleTimeout idle = new IdleTimeout(ch, listener.idleTimeout());
        // Set before anything is written: it meters every byte sent downstream, spliced or copied.
        ch.config().setMessageSizeEstimator(new TrafficMeter(listener.metrics().bytesToDownstream(), listener.metrics().splicedToDownstream(), idle));
        ch.pipeline()
                .addLast(MeshgateHandlerNames.CLIENT_HELLO, new ClientHelloHandler(connection))
                .addLast(MeshgateHandlerNames.ROUTE, new RouteSelector(connection))
                .addLast(MeshgateHandlerNames.CONNECT, new UpstreamConnector(connection, idle));
    }
}
