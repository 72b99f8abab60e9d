package io.meshgate.gateway.terminate;

import io.meshgate.gateway.config.GatewaySpec.UpstreamTls;
import io.meshgate.gateway.listener.UpstreamConnector;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.routing.Endpoint;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;

/**
 * How a terminate listener reaches an endpoint once TCP is up, per {@code tls.upstream}: mTLS with
 * the gateway's own identity (current material), the endpoint verified against the bundle, and
 * the caller's original {@code outbound_...} SNI sent verbatim so the endpoint's sidecar sees the
 * same routing name; or plaintext.
 */
final class UpstreamOrigination implements UpstreamConnector.Origination {

    private final Termination termination;
    private final String serverName;

    UpstreamOrigination(Termination termination, String serverName) {
        this.termination = termination;
        this.serverName = serverName;
    }

    @Override
    public Future<?> secure(Channel upstream, Endpoint endpoint) {
        if (termination.upstream() == UpstreamTls.PLAINTEXT) {
            return upstream.newSucceededFuture();
        }
        SslHandler ssl = termination.tls().current().upstreamHandler(upstream.alloc(), serverName, endpoint.port());
        ssl.setHandshakeTimeoutMillis(termination.handshakeTimeout().toMillis());
        upstream.pipeline().addFirst(MeshgateHandlerNames.TLS, ssl)
                .addAfter(MeshgateHandlerNames.TLS, MeshgateHandlerNames.UPSTREAM_HANDSHAKE, new HandshakeFailure());
        ssl.handshakeFuture().addListener(done -> {
            if (done.isSuccess() && upstream.pipeline().get(MeshgateHandlerNames.UPSTREAM_HANDSHAKE) != null) {
                upstream.pipeline().remove(MeshgateHandlerNames.UPSTREAM_HANDSHAKE);
            }
        });
        // autoRead is off until the relay starts; the SslHandler keeps reading until the handshake is done.
        upstream.read();
        return ssl.handshakeFuture();
    }

    /**
     * Ends a failed upstream handshake's exception here: the handshake future already carries it to
     * the caller (a 502 or {@code upstream_failed}), and nothing after the SslHandler is installed yet.
     */
    private static final class HandshakeFailure extends io.netty.channel.ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(io.netty.channel.ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
