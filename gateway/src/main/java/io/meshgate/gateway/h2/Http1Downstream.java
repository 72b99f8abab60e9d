package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.routing.AppProtocol;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpServerCodec;

/**
 * The HTTP/1.1 service stage of a terminate listener, installed after a handshake that did not
 * negotiate ALPN {@code h2}, for a service of protocol {@code http}, {@code http2} or {@code grpc}:
 * {@code http-codec (HttpServerCodec) → h1-meter (Http1StatusMeter) → http}, where {@code http} is
 * the HTTP/1.1 proxy ({@code http} services, pooled HTTP/1.1 upstreams) or {@link Http1ToH2}
 * ({@code http2}/{@code grpc} services, a stream on the pooled h2 upstreams per request).
 */
public final class Http1Downstream {

    private Http1Downstream() {}

    /** Installs the stage after {@code after} in the verified connection's pipeline. */
    public static void install(ChannelPipeline p, String after, Connection connection, Http2Termination h2,
                               String forwardedClientCert, AppProtocol protocol) {
        // Nothing failed if a verified caller leaves before its first request.
        connection.outcomeIfClosed(Outcome.ROUTED);
        ChannelHandler proxy = protocol == AppProtocol.HTTP
                ? h2.http1().handler(connection, forwardedClientCert)
                : new Http1ToH2(connection, h2, forwardedClientCert);
        p.addAfter(after, MeshgateHandlerNames.HTTP_CODEC, new HttpServerCodec())
                .addAfter(MeshgateHandlerNames.HTTP_CODEC, Http2Names.H1_METER, new Http1StatusMeter(h2.metrics()))
                .addAfter(Http2Names.H1_METER, MeshgateHandlerNames.HTTP, proxy);
    }
}
