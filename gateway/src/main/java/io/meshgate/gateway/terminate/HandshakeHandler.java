package io.meshgate.gateway.terminate;

import io.meshgate.gateway.h2.Http1Downstream;
import io.meshgate.gateway.h2.Http2Downstream;
import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.listener.UpstreamConnector;
import io.meshgate.gateway.relay.CopyRelay;
import io.meshgate.gateway.relay.IdleTimeout;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.routing.AppProtocol;
import io.meshgate.tls.PeerIdentity;
import io.meshgate.tls.PeerRefusedException;
import io.meshgate.tls.TlsMaterial;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import java.util.Optional;

/**
 * Stage 4 (terminate): the downstream handshake's verdict. A failure closes the connection (the
 * SslHandler has already sent BoringSSL's alert) as {@code denied} when meshgate refused the
 * client's certificate or identity, else {@code tls_error}; refusals and handshakes that ran out
 * of {@code timeouts.tlsHandshake} are logged at INFO through the listener's rate-limited refusal
 * log. A success reads the caller's {@link PeerIdentity} and installs the service stage: the TCP
 * relay or the HTTP proxy, by what the route's port speaks.
 */
final class HandshakeHandler extends ChannelInboundHandlerAdapter {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(HandshakeHandler.class);
    /** The refusal log's reason for a handshake that did not finish in time (counted as {@code tls_error}). */
    static final String HANDSHAKE_TIMEOUT = "handshake_timeout";
    static final String TLS_ERROR = "tls_error";
    /** TLS termination rules out splice: decrypted bytes pass through the JVM anyway. */
    private static final Relay RELAY = new CopyRelay();

    private final Connection connection;
    private final IdleTimeout idle;
    private TlsMaterial material;
    private SslHandler ssl;

    private final Termination termination;

    HandshakeHandler(Connection connection, IdleTimeout idle, Termination termination) {
        this.connection = connection;
        this.idle = idle;
        this.termination = termination;
    }

    /** The material and handler this connection's handshake runs with. */
    void terminatingWith(TlsMaterial material, SslHandler ssl) {
        this.material = material;
        this.ssl = ssl;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof SslHandshakeCompletionEvent done) {
            if (done.isSuccess()) {
                verified(ctx);
            } else {
                refuse(ctx, done.cause());
            }
            return;
        }
        if (evt instanceof ChannelInputShutdownEvent) {
            // The caller's FIN (or reset) before the handshake ended: it can never finish, and the
            // listener's half-closure would otherwise hold the connection until timeouts.tlsHandshake.
            // Closing fails the handshake (tls_error, counted, not logged: the caller left).
            ctx.close();
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    private void verified(ChannelHandlerContext ctx) {
        PeerIdentity peer;
        try {
            peer = PeerIdentity.of(ssl.engine().getSession());
        } catch (Exception e) { // the trust manager verified the leaf already; this is a safety net
            refuse(ctx, e);
            return;
        }
        termination.handshakes().ok();
        connection.peerIdentity(peer.spiffeId().toString());
        if (ctx.pipeline().get(AccessDeniedAlert.NAME) != null) {
            ctx.pipeline().remove(AccessDeniedAlert.NAME);
        }
        if (log.isDebugEnabled()) {
            log.debug("{} {} verified {} (sni {})", connection.listener().name(), ctx.channel().remoteAddress(),
                    peer.spiffeId(), connection.serverName());
        }
        ChannelPipeline p = ctx.pipeline();
        AppProtocol protocol = connection.route().protocol();
        if (protocol.isHttp() && ApplicationProtocolNames.HTTP_2.equals(ssl.applicationProtocol())) {
            // h2 downstream: every stream is routed on its own (http: to the HTTP/1.1 pool, http2/grpc: to h2).
            Http2Downstream.install(p, ctx.name(), connection, termination.http2(), peer.forwardedClientCert(material.servingId()));
            idle.start(null);
        } else if (protocol == AppProtocol.HTTP
                || protocol.isHttp() && ApplicationProtocolNames.HTTP_1_1.equals(ssl.applicationProtocol())) {
            // HTTP/1.1 downstream: every request balanced on its own, to the HTTP/1.1 pool (http) or the h2 pool
            // (http2/grpc). An http2/grpc caller that negotiated no ALPN may speak h2 with prior knowledge: relayed as TCP.
            Http1Downstream.install(p, ctx.name(), connection, termination.http2(), peer.forwardedClientCert(material.servingId()),
                    protocol);
            idle.start(null);
        } else {
            connection.outcomeIfClosed(null);
            p.addAfter(ctx.name(), MeshgateHandlerNames.CONNECT, new UpstreamConnector(connection, idle, RELAY,
                    new UpstreamOrigination(termination, connection.serverName())));
        }
        p.remove(this);
    }

    private void refuse(ChannelHandlerContext ctx, Throwable cause) {
        Optional<PeerRefusedException.Reason> reason = PeerRefusedException.reasonOf(cause);
        if (reason.isPresent()) {
            termination.handshakes().denied();
            termination.handshakes().refused(reason.get());
            Optional<PeerRefusedException> refusal = PeerRefusedException.find(cause);
            termination.handshakes().refusalLog().refused(connection.listener().name(), connection.downstream().remoteAddress(),
                    connection.serverName(), refusal.map(PeerRefusedException::peerSubject).orElse(null), reason.get().label(),
                    refusal.map(Throwable::getMessage).orElse(null));
        } else {
            termination.handshakes().error();
            if (cause instanceof SslHandshakeTimeoutException) {
                // A caller too slow to finish (or a starved gateway): operators need to see it, not only count it.
                termination.handshakes().refusalLog().refused(connection.listener().name(), connection.downstream().remoteAddress(),
                        connection.serverName(), null, HANDSHAKE_TIMEOUT, "no complete handshake within timeouts.tlsHandshake ("
                                + termination.handshakeTimeout().toMillis() + " ms)");
            } else if (!HandshakeFailure.callerLeft(cause)) {
                termination.handshakes().refusalLog().refused(connection.listener().name(), connection.downstream().remoteAddress(),
                        connection.serverName(), null, TLS_ERROR, HandshakeFailure.describe(cause));
            }
        }
        if (log.isDebugEnabled()) {
            log.debug("{} {} handshake failed ({}): {}", connection.listener().name(), connection.downstream().remoteAddress(),
                    reason.map(Enum::name).orElse("tls_error"), cause.toString());
        }
        connection.refuse(reason.isPresent() ? Outcome.DENIED : Outcome.TLS_ERROR);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Decoding failures arrive here after the handshake event has recorded the outcome.
        ctx.close();
    }
}
