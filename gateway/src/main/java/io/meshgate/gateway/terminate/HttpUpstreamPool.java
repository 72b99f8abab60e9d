package io.meshgate.gateway.terminate;

import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.gateway.relay.Reading;
import io.meshgate.gateway.relay.TrafficMeter;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.meshgate.gateway.upstream.UpstreamFailure;
import io.meshgate.gateway.upstream.UpstreamTarget;
import io.meshgate.routing.Endpoint;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps HTTP/1.1 upstream connections of one terminate listener open between requests, so a new
 * downstream connection (a new mTLS handshake at the gateway) does not cost a new handshake with
 * the endpoint. One pool per event loop (no locks: a loop is its pool's only user, and pooled
 * channels live on the loop of the downstreams they serve), one slot per endpoint and routing
 * name (the SNI the endpoint's sidecar saw). A slot holds at most {@code limits.upstreamPoolSize}
 * connections, idle or busy; 0 turns reuse off. Connections that close or fail leave the pool.
 */
public final class HttpUpstreamPool {

    private static final ChannelHandler NO_HANDLERS = new ChannelInitializer<>() {
        @Override
        protected void initChannel(Channel ch) {
        }
    };

    private record Key(Endpoint endpoint, String serverName) {}

    /** Connections to one endpoint under one routing name; touched on one event loop only. */
    private static final class Slot {
        final ArrayDeque<PooledUpstream> idle = new ArrayDeque<>();
        int open;
    }

    private final int size;
    private final ConcurrentHashMap<EventLoop, Map<Key, Slot>> loops = new ConcurrentHashMap<>();

    private final Termination termination;

    HttpUpstreamPool(int size, Termination termination) {
        this.size = size;
        this.termination = termination;
    }

    /**
     * An idle connection to the endpoint the picker chose for this request (the target's
     * preferred candidate), or a new one (dialed over the target's candidates in its order,
     * secured per {@code tls.upstream}, HTTP codec installed); fails with
     * {@link UpstreamFailure.PoolExhausted} when the slot is at its bound. Runs on the downstream's loop.
     */
    Future<PooledUpstream> acquire(Connection connection, UpstreamTarget target) {
        ListenerContext listener = connection.listener();
        EventLoop loop = connection.downstream().eventLoop();
        Map<Key, Slot> slots = loops.computeIfAbsent(loop, l -> new HashMap<>());
        String sni = connection.serverName();
        Endpoint preferred = target.preferred();
        Slot slot = slots.computeIfAbsent(new Key(preferred, sni), k -> new Slot());
        PooledUpstream idle;
        while ((idle = slot.idle.pollLast()) != null) { // most recently used first: least likely closed by now
            if (idle.channel().isActive()) {
                idle.reused();
                return loop.newSucceededFuture(idle);
            }
        }
        if (size > 0 && slot.open >= size) {
            return loop.newFailedFuture(new UpstreamFailure.PoolExhausted(preferred, size));
        }
        Promise<PooledUpstream> result = loop.newPromise();
        slot.open++; // reserved while dialing, so concurrent dials respect the bound too
        Future<EndpointDialer.Dialed> dial = listener.upstreams().dial(loop, target,
                new TrafficMeter(listener.metrics().bytesToUpstream(), listener.metrics().splicedToUpstream(), null), NO_HANDLERS);
        result.addListener(r -> {
            if (r.isCancelled()) {
                dial.cancel(false);
            }
        });
        dial.addListener((Future<EndpointDialer.Dialed> f) -> {
            slot.open--;
            if (!f.isSuccess()) {
                result.tryFailure(f.cause());
                return;
            }
            Channel ch = f.getNow().channel();
            Endpoint endpoint = f.getNow().endpoint();
            Slot owner = slots.computeIfAbsent(new Key(endpoint, sni), k -> new Slot());
            owner.open++;
            listener.upstreams().picker().connected(endpoint);
            PooledUpstream upstream = new PooledUpstream(ch, endpoint, sni);
            ch.closeFuture().addListener(c -> {
                owner.open--;
                owner.idle.remove(upstream);
                listener.upstreams().picker().disconnected(endpoint);
            });
            if (result.isDone()) {
                ch.close();
                return;
            }
            new UpstreamOrigination(termination, sni).secure(ch, endpoint).addListener(secured -> {
                if (!secured.isSuccess()) {
                    ch.close();
                    result.tryFailure(secured.cause());
                    return;
                }
                HttpDecoderConfig decoder = new HttpDecoderConfig().setMaxChunkSize(64 * 1024);
                ch.pipeline().addLast(MeshgateHandlerNames.HTTP_CODEC, new HttpClientCodec(decoder, true, false));
                ch.pipeline().addLast(MeshgateHandlerNames.EXCHANGE, upstream);
                Reading.set(ch, true); // also while idle, so a close by the endpoint is seen at once
                if (!result.trySuccess(upstream)) {
                    ch.close();
                }
            });
        });
        return result;
    }

    /** Takes a connection back after an exchange: kept when it may carry another request, else closed. */
    void release(PooledUpstream upstream, boolean reusable) {
        Channel ch = upstream.channel();
        if (!reusable || size == 0 || !ch.isActive()) {
            ch.close();
            return;
        }
        Reading.set(ch, true);
        Slot slot = loops.get(ch.eventLoop()).get(new Key(upstream.endpoint(), upstream.serverName()));
        if (slot == null) {
            ch.close();
            return;
        }
        slot.idle.addLast(upstream);
    }

    /** Idle connections on every loop (for tests and debugging; racy across loops by nature). */
    int idleConnections() {
        return loops.values().stream().flatMap(m -> m.values().stream()).mapToInt(s -> s.idle.size()).sum();
    }
}
