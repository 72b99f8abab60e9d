package io.meshgate.gateway.terminate;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.tls.ServerTrafficSecrets;
import io.meshgate.tls.TlsMaterial;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.ssl.SslHandler;

/**
 * Stage 3 (terminate): once the route is known and the buffered ClientHello arrives, puts the
 * server {@link SslHandler} of the CURRENT TLS material in its own place, so each new handshake
 * uses the newest identity and trust bundle while open connections keep theirs. The hello bytes
 * then flow into the SslHandler unchanged.
 */
final class DownstreamTls extends ChannelInboundHandlerAdapter {

    private final Connection connection;
    private final HandshakeHandler handshake;

    private final Termination termination;

    DownstreamTls(Connection connection, HandshakeHandler handshake, Termination termination) {
        this.connection = connection;
        this.handshake = handshake;
        this.termination = termination;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        TlsMaterial material = termination.tls().current();
        // HTTP services offer ALPN h2 and http/1.1; TCP services keep a context without ALPN, as before.
        SslHandler ssl = connection.route().protocol().isHttp() ? material.httpServerHandler(ctx.alloc())
                : material.serverHandler(ctx.alloc());
        ssl.setHandshakeTimeoutMillis(termination.handshakeTimeout().toMillis());
        // A peer that goes away mid-handshake is a TLS failure, not a routing one.
        connection.outcomeIfClosed(Outcome.TLS_ERROR);
        handshake.terminatingWith(material, ssl);
        ctx.pipeline().replace(this, MeshgateHandlerNames.TLS, ssl);
        // Watched before the hello reaches BoringSSL: the TLS 1.3 alert key is derived during this read.
        ServerTrafficSecrets secrets = material.serverTrafficSecrets();
        ctx.pipeline().addBefore(MeshgateHandlerNames.TLS, AccessDeniedAlert.NAME,
                new AccessDeniedAlert(secrets == null ? null : secrets.watch(ssl.engine())));
        ctx.fireChannelRead(msg); // a replaced context forwards to its replacement
    }
}
