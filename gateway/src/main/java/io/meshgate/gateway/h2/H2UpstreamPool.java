package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.gateway.relay.TrafficMeter;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.meshgate.routing.Endpoint;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The h2 connections of one terminate listener to the endpoints of {@code http2}/{@code grpc}
 * services: per event loop (no locks; a loop is its pool's only user and the streams it opens
 * serve downstreams on the same loop), per endpoint and routing name. A stream goes on the first
 * connection with room; a new connection is dialed only when every open one is at its stream limit
 * (the endpoint's SETTINGS_MAX_CONCURRENT_STREAMS, capped by {@code http2.upstreamMaxConcurrentStreams})
 * or going away; streams asked for while a connection is being set up wait for it (no futures or
 * listeners per stream: a request is a callback, {@link StreamRequest}). Endpoints are
 * reached with mTLS and ALPN {@code h2} (the gateway's identity, as for every upstream) or, with
 * {@code tls.upstream: plaintext}, h2c with prior knowledge.
 */
final class H2UpstreamPool {

    /** The endpoint did not agree to speak h2. */
    static final class NotH2Exception extends Exception {
        NotH2Exception(Endpoint endpoint, String protocol) {
            super("endpoint " + endpoint + " negotiated " + (protocol == null ? "no ALPN protocol" : protocol) + ", not h2",
                    null, false, false);
        }
    }

    private static final ChannelHandler NO_HANDLERS = new ChannelInitializer<>() {
        @Override
        protected void initChannel(Channel ch) {
        }
    };

    /**
     * A stream to open: its first HEADERS, who receives its frames, and where the outcome goes.
     * Told exactly once, on the requester's event loop, unless it was abandoned meanwhile.
     */
    interface StreamRequest {
        Http2Headers headers();

        boolean endStream();

        UpstreamStream.Receiver receiver();

        /** The requester gave up waiting; it is told nothing more. */
        boolean abandoned();

        /** The stream is open with its HEADERS written (the requester flushes). */
        void opened(UpstreamStream stream);

        void failed(Throwable cause);
    }

    private record Key(Endpoint endpoint, String serverName) {}

    /** The connections to one endpoint under one routing name; touched on one event loop only. */
    private static final class Slot {
        final List<H2Upstream> open = new ArrayList<>();
        /** The connection being set up, and the streams that wait for it. */
        Connecting connecting;
    }

    /** A connection being dialed and the requests that wait for it (at most a connection's worth). */
    private static final class Connecting {
        final List<StreamRequest> waiting = new ArrayList<>();
        boolean done;
        /** Once done: the connection, or why there is none. */
        H2Upstream up;
        Throwable cause;

        /** Opens {@code request}'s stream on the new connection, or fails it. */
        void serve(StreamRequest request) {
            if (request.abandoned()) {
                return;
            }
            if (up == null) {
                request.failed(cause);
                return;
            }
            try {
                request.opened(up.open(request.headers(), request.endStream(), request.receiver()));
            } catch (H2Upstream.RefusedStreamException refused) {
                request.failed(refused);
            }
        }
    }

    private final ListenerContext listener;
    private final Http2Termination h2;
    private final Http2Limits limits;
    private final Http2Metrics metrics;
    private final ConcurrentHashMap<EventLoop, Map<Key, Slot>> loops = new ConcurrentHashMap<>();

    H2UpstreamPool(ListenerContext listener, Http2Termination h2) {
        this.listener = listener;
        this.h2 = h2;
        this.limits = h2.limits();
        this.metrics = h2.metrics();
    }

    /**
     * Opens a stream to {@code endpoint} for {@code request} on {@code loop}: at once on the first
     * connection with room, else once a new connection is up; the request fails when the endpoint
     * cannot be reached, secured, does not speak h2 or refuses the stream. Runs on {@code loop}.
     */
    void open(EventLoop loop, Endpoint endpoint, String serverName, StreamRequest request) {
        Slot slot = loops.computeIfAbsent(loop, l -> new HashMap<>()).computeIfAbsent(new Key(endpoint, serverName), k -> new Slot());
        List<H2Upstream> open = slot.open;
        for (int i = 0; i < open.size(); i++) {
            H2Upstream up = open.get(i);
            if (up.hasCapacity()) {
                try {
                    request.opened(up.open(request.headers(), request.endStream(), request.receiver()));
                    return;
                } catch (H2Upstream.RefusedStreamException refused) {
                    // That connection retired itself if it can take no more streams (ids exhausted); try the others.
                    if (i < open.size() && open.get(i) != up) {
                        i--;
                    }
                }
            }
        }
        Connecting connecting = slot.connecting;
        if (connecting == null || connecting.waiting.size() >= limits.upstreamMaxConcurrentStreams()) {
            connecting = connect(loop, endpoint, serverName, slot);
            if (!connecting.done) { // a dial can fail before it returns
                slot.connecting = connecting;
            }
        }
        if (connecting.done) {
            connecting.serve(request);
        } else {
            connecting.waiting.add(request);
        }
    }

    /**
     * Puts {@code up}, a connection set up by the caller, among {@code loop}'s open connections to
     * {@code endpoint} under {@code serverName} (tests drive a pooled connection through an
     * {@code EmbeddedChannel} this way).
     */
    void add(EventLoop loop, Endpoint endpoint, String serverName, H2Upstream up) {
        loops.computeIfAbsent(loop, l -> new HashMap<>()).computeIfAbsent(new Key(endpoint, serverName), k -> new Slot()).open.add(up);
    }

    private Connecting connect(EventLoop loop, Endpoint endpoint, String serverName, Slot slot) {
        Connecting connecting = new Connecting();
        listener.upstreams().dial(loop, List.of(endpoint), 1,
                new TrafficMeter(listener.metrics().bytesToUpstream(), listener.metrics().splicedToUpstream(), null), NO_HANDLERS)
                .addListener((Future<EndpointDialer.Dialed> dialed) -> {
                    if (!dialed.isSuccess()) {
                        done(slot, connecting, null, dialed.cause());
                        return;
                    }
                    Channel ch = dialed.getNow().channel();
                    // The connection multiplexes many streams: it always reads; backpressure is per stream.
                    ch.config().setAutoRead(true);
                    // h2 has no half-closed connection: an endpoint's FIN ends it, and its open streams fail at once.
                    ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, false);
                    if (h2.plaintextUpstream()) {
                        speakH2(ch, endpoint, slot, connecting);
                        return;
                    }
                    SslHandler ssl = h2.tls().current().h2UpstreamHandler(ch.alloc(), serverName, endpoint.port());
                    ssl.setHandshakeTimeoutMillis(h2.handshakeTimeout().toMillis());
                    ch.pipeline().addFirst(MeshgateHandlerNames.TLS, ssl);
                    ssl.handshakeFuture().addListener(hs -> {
                        if (!hs.isSuccess()) {
                            ch.close();
                            done(slot, connecting, null, hs.cause());
                        } else if (!ApplicationProtocolNames.HTTP_2.equals(ssl.applicationProtocol())) {
                            ch.close();
                            done(slot, connecting, null, new NotH2Exception(endpoint, ssl.applicationProtocol()));
                        } else {
                            speakH2(ch, endpoint, slot, connecting);
                        }
                    });
                });
        return connecting;
    }

    /** The connection is up ({@code up}) or failed ({@code cause}): the requests that waited for it are served. */
    private static void done(Slot slot, Connecting connecting, H2Upstream up, Throwable cause) {
        if (slot.connecting == connecting) {
            slot.connecting = null;
        }
        connecting.done = true;
        connecting.up = up;
        connecting.cause = cause;
        List<StreamRequest> waiting = new ArrayList<>(connecting.waiting);
        connecting.waiting.clear();
        for (StreamRequest request : waiting) {
            connecting.serve(request);
        }
    }

    private void speakH2(Channel ch, Endpoint endpoint, Slot slot, Connecting connecting) {
        if (!ch.isActive()) {
            done(slot, connecting, null, new ClosedChannelException());
            return;
        }
        Http2FrameCodec codec = limits.clientCodec();
        H2Upstream up = new H2Upstream(ch, endpoint, codec, limits.upstreamMaxConcurrentStreams(), metrics,
                listener.upstreams().picker(), slot.open::remove);
        ch.pipeline().addLast(Http2Names.FLUSH, Http2Names.flushConsolidation())
                .addLast(Http2Names.COALESCE, new FrameCoalescer())
                .addLast(Http2Names.CODEC, codec)
                .addLast(Http2Names.UPSTREAM, up);
        Http2Names.widenConnectionWindow(codec, limits.initialConnectionWindow());
        metrics.upstreamConnections().incrementAndGet();
        ch.closeFuture().addListener(c -> metrics.upstreamConnections().decrementAndGet());
        slot.open.add(up);
        done(slot, connecting, up, null);
    }
}
