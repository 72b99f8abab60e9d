package io.meshgate.gateway.h2;

import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.gateway.relay.TrafficMeter;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.meshgate.routing.Endpoint;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
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
 * or going away; streams asked for while a connection is being set up wait for it. Endpoints are
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

    /** Server push is refused in SETTINGS; a stream the endpoint opens anyway is closed at once. */
    private static final ChannelHandler REFUSE_PUSH = new ChannelInitializer<Http2StreamChannel>() {
        @Override
        protected void initChannel(Http2StreamChannel ch) {
            ch.close();
        }
    };

    private record Key(Endpoint endpoint, String serverName) {}

    /** The connections to one endpoint under one routing name; touched on one event loop only. */
    private static final class Slot {
        final List<H2Upstream> open = new ArrayList<>();
        /** The connection being set up, and how many streams already wait for it. */
        Future<H2Upstream> connecting;
        int waiting;
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
     * A new stream to {@code endpoint} with {@code handler} as its pipeline, on {@code loop}; fails
     * when the endpoint cannot be reached, secured or does not speak h2. Runs on {@code loop}.
     */
    Future<Http2StreamChannel> open(EventLoop loop, Endpoint endpoint, String serverName, ChannelHandler handler) {
        Slot slot = loops.computeIfAbsent(loop, l -> new HashMap<>()).computeIfAbsent(new Key(endpoint, serverName), k -> new Slot());
        for (H2Upstream up : slot.open) {
            if (up.hasCapacity()) {
                up.reserve();
                return up.open(handler);
            }
        }
        if (slot.connecting == null || slot.waiting >= limits.upstreamMaxConcurrentStreams()) {
            slot.connecting = connect(loop, endpoint, serverName, slot);
            slot.waiting = 0;
        }
        slot.waiting++;
        Promise<Http2StreamChannel> stream = loop.newPromise();
        slot.connecting.addListener((Future<H2Upstream> f) -> {
            if (!f.isSuccess()) {
                stream.tryFailure(f.cause());
            } else if (!stream.isDone()) {
                H2Upstream up = f.getNow();
                up.reserve();
                up.open(handler).addListener((Future<Http2StreamChannel> s) -> {
                    if (!s.isSuccess()) {
                        stream.tryFailure(s.cause());
                    } else if (!stream.trySuccess(s.getNow())) {
                        s.getNow().close(); // abandoned meanwhile
                    }
                });
            }
        });
        return stream;
    }

    private Future<H2Upstream> connect(EventLoop loop, Endpoint endpoint, String serverName, Slot slot) {
        Promise<H2Upstream> ready = loop.newPromise();
        Future<H2Upstream> self = ready;
        ready.addListener(f -> {
            if (slot.connecting == self) {
                slot.connecting = null;
                slot.waiting = 0;
            }
        });
        listener.upstreams().dial(loop, List.of(endpoint), 1,
                new TrafficMeter(listener.metrics().bytesToUpstream(), listener.metrics().splicedToUpstream(), null), NO_HANDLERS)
                .addListener((Future<EndpointDialer.Dialed> dialed) -> {
                    if (!dialed.isSuccess()) {
                        ready.tryFailure(dialed.cause());
                        return;
                    }
                    Channel ch = dialed.getNow().channel();
                    // The connection multiplexes many streams: it always reads; backpressure is per stream.
                    ch.config().setAutoRead(true);
                    if (h2.plaintextUpstream()) {
                        speakH2(ch, endpoint, slot, ready);
                        return;
                    }
                    SslHandler ssl = h2.tls().current().h2UpstreamHandler(ch.alloc(), serverName, endpoint.port());
                    ssl.setHandshakeTimeoutMillis(h2.handshakeTimeout().toMillis());
                    ch.pipeline().addFirst(MeshgateHandlerNames.TLS, ssl);
                    ssl.handshakeFuture().addListener(hs -> {
                        if (!hs.isSuccess()) {
                            ch.close();
                            ready.tryFailure(hs.cause());
                        } else if (!ApplicationProtocolNames.HTTP_2.equals(ssl.applicationProtocol())) {
                            ch.close();
                            ready.tryFailure(new NotH2Exception(endpoint, ssl.applicationProtocol()));
                        } else {
                            speakH2(ch, endpoint, slot, ready);
                        }
                    });
                });
        return ready;
    }

    private void speakH2(Channel ch, Endpoint endpoint, Slot slot, Promise<H2Upstream> ready) {
        Http2FrameCodec codec = limits.clientCodec();
        H2Upstream up = new H2Upstream(ch, endpoint, codec, limits.upstreamMaxConcurrentStreams(), metrics, slot.open::remove);
        ch.pipeline().addLast(Http2Names.FLUSH, Http2Names.flushConsolidation())
                .addLast(Http2Names.CODEC, codec)
                .addLast(Http2Names.STREAMS, new Http2MultiplexHandler(REFUSE_PUSH))
                .addLast(Http2Names.UPSTREAM, up);
        Http2Names.widenConnectionWindow(codec, limits.initialConnectionWindow());
        metrics.upstreamConnections().incrementAndGet();
        ch.closeFuture().addListener(c -> metrics.upstreamConnections().decrementAndGet());
        slot.open.add(up);
        if (!ready.trySuccess(up)) {
            ch.close();
        }
    }
}
