package io.meshgate.gateway.testing;

import io.meshgate.gateway.transport.Transport;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultChannelId;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * An upstream socket stand-in for handler tests in the style of Netty's {@code SniHandlerTest}:
 * an embedded channel that the real {@code EndpointDialer}'s Bootstrap creates (through
 * {@link #TRANSPORT}) and registers on the downstream's embedded loop, so every event happens in
 * an order the test controls. Refuses connects to the ports in {@link #REFUSING}, records every
 * connected channel in {@link #OPENED} and a half-close. Tests call {@link #reset()} after each run.
 */
public final class EmbeddedUpstream extends EmbeddedChannel implements DuplexChannel {

    /** A transport whose socket channel is this class (no event loop groups: dials use the caller's loop). */
    public static final Transport TRANSPORT = new Transport("embedded", null, null, EmbeddedUpstream.class, false, Duration.ZERO, false);
    public static final Set<Integer> REFUSING = ConcurrentHashMap.newKeySet();
    public static final List<EmbeddedUpstream> OPENED = new CopyOnWriteArrayList<>();

    private SocketAddress remote;
    private boolean inputShut;
    private boolean outputShut;

    public EmbeddedUpstream() {
        super(DefaultChannelId.newInstance(), false, true, new ChannelOutboundHandlerAdapter() {
            @Override
            public void connect(ChannelHandlerContext ctx, SocketAddress remote, SocketAddress local, ChannelPromise promise) {
                if (REFUSING.contains(((InetSocketAddress) remote).getPort())) {
                    promise.setFailure(new ConnectException("connection refused: " + remote));
                    ctx.close();
                    return;
                }
                ((EmbeddedUpstream) ctx.channel()).remote = remote;
                OPENED.add((EmbeddedUpstream) ctx.channel());
                ctx.connect(remote, local, promise);
            }
        });
    }

    /**
     * Prepares {@code loop} for dials. Bootstrap asks the default resolver group for the loop's
     * resolver on every connect; its first call caches the resolver and then fails on the embedded
     * loop's missing termination future, which would fail the first dial for a reason no socket
     * has. This makes that call.
     */
    public static void prepare(EventLoop loop) {
        try {
            io.netty.resolver.DefaultAddressResolverGroup.INSTANCE.getResolver(loop);
        } catch (UnsupportedOperationException expected) {
            // the resolver is cached by now
        }
    }

    /** Closes and releases every opened upstream and forgets the refused ports. */
    public static void reset() {
        REFUSING.clear();
        for (EmbeddedUpstream up : OPENED) {
            up.finishAndReleaseAll();
        }
        OPENED.clear();
    }

    /** The address the dialer connected to. */
    public SocketAddress remote() {
        return remote;
    }

    /** Everything written to the endpoint so far, drained from the outbound queue. */
    public byte[] written() {
        ByteBuf all = Unpooled.buffer();
        Object m;
        while ((m = readOutbound()) != null) {
            if (m instanceof ByteBuf b) {
                all.writeBytes(b);
            }
            ReferenceCountUtil.release(m);
        }
        try {
            return ByteBufUtil.getBytes(all);
        } finally {
            all.release();
        }
    }

    @Override
    public boolean isInputShutdown() {
        return inputShut;
    }

    @Override
    public ChannelFuture shutdownInput() {
        return shutdownInput(newPromise());
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
        inputShut = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isOutputShutdown() {
        return outputShut;
    }

    @Override
    public ChannelFuture shutdownOutput() {
        return shutdownOutput(newPromise());
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        outputShut = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isShutdown() {
        return inputShut && outputShut;
    }

    @Override
    public ChannelFuture shutdown() {
        return shutdown(newPromise());
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        inputShut = true;
        outputShut = true;
        return promise.setSuccess();
    }
}
