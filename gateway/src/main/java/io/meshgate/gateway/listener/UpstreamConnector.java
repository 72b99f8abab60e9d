package io.meshgate.gateway.listener;

import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.IdleTimeout;
import io.meshgate.gateway.relay.Relay;
import io.meshgate.gateway.relay.TrafficMeter;
import io.meshgate.gateway.upstream.EndpointDialer;
import io.meshgate.gateway.upstream.UpstreamFailure;
import io.meshgate.gateway.upstream.UpstreamTarget;
import io.meshgate.routing.Endpoint;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;

/**
 * Stage 3 (passthrough, and terminate TCP services after the handshake): connects to an endpoint
 * of the route on the downstream's own event loop (splice needs both channels there, and it saves
 * cross-thread hand-offs) through the {@link EndpointDialer}, which tries the next endpoint on
 * failure; secures it if the listener re-originates TLS. Then it forwards every byte read so far,
 * byte-identical, and hands both channels to the relay. While it connects it buffers what it has
 * been handed and at most one more read, then stops reading (backpressure before the relay).
 */
public final class UpstreamConnector extends ChannelInboundHandlerAdapter {

    /**
     * What happens on a freshly connected upstream before bytes flow: nothing for passthrough,
     * the mTLS handshake with the gateway's identity for a terminate listener. A failed future
     * counts the connection {@code upstream_failed}.
     */
    public interface Origination {
        Origination NONE = (upstream, endpoint) -> upstream.newSucceededFuture();

        Future<?> secure(Channel upstream, Endpoint endpoint);
    }

    /**
     * The upstream's only handler until the relay takes over: whatever fails on it before then
     * (a reset while it is being secured, an error from its socket) ends here and closes it,
     * instead of reaching the tail of an empty pipeline; the connection then counts as
     * {@code upstream_failed} through the dial or the close of its downstream.
     */
    @ChannelHandler.Sharable
    static final class PendingUpstream extends ChannelInboundHandlerAdapter {
        static final PendingUpstream INSTANCE = new PendingUpstream();

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (log.isDebugEnabled()) {
                log.debug("{}: {} before the relay started; closing it", ctx.channel(), cause.toString());
            }
            ctx.close();
        }
    }

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(UpstreamConnector.class);

    private final Connection connection;
    private final IdleTimeout idle;
    private final Relay relay;
    private final Origination origination;
    /** Connect as soon as the stage is added instead of waiting for the first bytes (server-speaks-first services). */
    private final boolean eager;
    /** What the downstream sent before the upstream existed: one read as it came, a composite from the second on. */
    private ByteBuf pending;
    private boolean connecting;
    /** The downstream half-closed before the relay existed (epoll reads to EOF on RDHUP even with autoRead off). */
    private boolean inputShutdown;
    private Future<EndpointDialer.Dialed> attempt;

    /** Passthrough: connect once the hello is buffered, relay with the listener's relay. */
    UpstreamConnector(Connection connection, IdleTimeout idle) {
        this(connection, idle, connection.listener().relay(), Origination.NONE, false);
    }

    /** Connects at once, secures the upstream with {@code origination}, relays with {@code relay}. */
    public UpstreamConnector(Connection connection, IdleTimeout idle, Relay relay, Origination origination) {
        this(connection, idle, relay, origination, true);
    }

    private UpstreamConnector(Connection connection, IdleTimeout idle, Relay relay, Origination origination, boolean eager) {
        this.connection = connection;
        this.idle = idle;
        this.relay = relay;
        this.origination = origination;
        this.eager = eager;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (eager && !connecting) {
            connecting = true;
            connect(ctx);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (pending == null) {
            pending = buf; // usually all there is: the relay may then send it straight from this buffer
        } else {
            CompositeByteBuf more = pending instanceof CompositeByteBuf c ? c : ctx.alloc().compositeBuffer().addComponent(true, pending);
            pending = more.addComponent(true, buf);
        }
        if (connecting) {
            // More bytes before the upstream is there: hold them (this read, at most) and read no
            // more until the relay starts, which turns reading on again.
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!connecting && pending != null) {
            connecting = true;
            connect(ctx);
        }
    }

    private void connect(ChannelHandlerContext ctx) {
        ListenerContext listener = connection.listener();
        Channel downstream = ctx.channel();
        TrafficMeter meter = new TrafficMeter(listener.metrics().bytesToUpstream(), listener.metrics().splicedToUpstream(), idle,
                listener.accessLog().enabled());
        // The picker runs once per connection; egress gateways are tried in the router's order.
        UpstreamTarget target = listener.upstreams().pick(connection.route());
        attempt = listener.upstreams().dial(downstream.eventLoop(), target, meter, PendingUpstream.INSTANCE);
        attempt.addListener((Future<EndpointDialer.Dialed> f) -> {
            attempt = null;
            if (f.isCancelled()) {
                return;
            }
            if (!downstream.isActive()) {
                if (f.isSuccess()) {
                    f.getNow().channel().close();
                }
                return;
            }
            if (!f.isSuccess()) {
                connection.refuse(UpstreamFailure.outcome(f.cause()));
                return;
            }
            EndpointDialer.Dialed dialed = f.getNow();
            Channel upstream = dialed.channel();
            // From here the upstream closes with the downstream, also while it is being secured.
            connection.upstream(upstream, dialed.endpoint(), dialed.cluster());
            listener.metrics().upstreamConnection(dialed.cluster());
            origination.secure(upstream, dialed.endpoint()).addListener(secured -> {
                if (!secured.isSuccess()) {
                    connection.refuse(UpstreamFailure.outcome(secured.cause()));
                } else if (downstream.isActive()) {
                    connected(ctx, upstream);
                }
            });
        });
    }

    private void connected(ChannelHandlerContext ctx, Channel upstream) {
        connection.outcome(Outcome.ROUTED);
        ByteBuf first = pending;
        pending = null;
        idle.start(upstream);
        if (upstream.pipeline().get(PendingUpstream.class) != null) {
            upstream.pipeline().remove(PendingUpstream.INSTANCE); // the relay handles the upstream from here
        }
        ctx.pipeline().remove(this);
        relay.start(ctx.channel(), upstream, first); // the relay sends the first flight before anything else
        if (inputShutdown) {
            // Replay the FIN for the relay now that it can pass it on (after the bytes before it).
            ctx.channel().pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            inputShutdown = true;
            if (!connecting && pending != null) {
                channelReadComplete(ctx); // the FIN came in the same read as the hello
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (attempt != null) {
            attempt.cancel(false);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (pending != null) {
            pending.release();
            pending = null;
        }
    }
}
