package io.meshgate.gateway.terminate;

import io.meshgate.gateway.listener.ClientHelloHandler;
import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.listener.DownstreamPipeline;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.listener.RouteSelector;
import io.meshgate.gateway.relay.IdleTimeout;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.gateway.relay.TrafficMeter;
import io.netty.channel.socket.SocketChannel;

/**
 * The terminate pipeline, in the order documented in {@link MeshgateHandlerNames}: ClientHello
 * (SNI) and route exactly as passthrough, then TLS with the gateway's current identity (client
 * certificate required and verified), the handshake's outcome and the caller's identity, then the
 * service stage: a TCP relay or the HTTP proxy, by what the route's port speaks.
 */
public final class TerminatePipeline implements DownstreamPipeline {

    private final Termination termination;

    public TerminatePipeline(Termination termination) {
        this.termination = termination;
    }

    /** The listener's TLS material, handshake meters and HTTP upstream pool. */
    public Termination termination() {
        return termination;
    }

    @Override
    public void assemble(SocketChannel ch, Connection connection) {
        ListenerContext listener = connection.listener();
        IdleTimeout idle = new IdleTimeout(ch, listener.limits().idleTimeout());
        // Meters the TLS records written downstream, whichever service stage produces them.
        ch.config().setMessageSizeEstimator(new TrafficMeter(listener.metrics().bytesToDownstream(), listener.metrics().splicedToDownstream(), idle,
                listener.accessLog().enabled()));
        HandshakeHandler handshake = new HandshakeHandler(connection, idle, termination);
        ch.pipeline()
                .addLast(MeshgateHandlerNames.CLIENT_HELLO, ClientHelloHandler.terminating(connection))
                .addLast(MeshgateHandlerNames.ROUTE, RouteSelector.terminating(connection))
                .addLast(MeshgateHandlerNames.TLS, new DownstreamTls(connection, handshake, termination))
                .addLast(MeshgateHandlerNames.HANDSHAKE, handshake);
    }
}
