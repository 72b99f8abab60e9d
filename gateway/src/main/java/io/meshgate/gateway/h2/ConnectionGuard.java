package io.meshgate.gateway.h2;

import io.meshgate.gateway.h2.Http2Metrics.ResetCause;
import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.listener.Listener;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.Http2ConnectionAdapter;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * Watches one downstream h2 connection between the codec and its streams' handler ({@link StreamRelay},
 * or the multiplexer of stream channels for an {@code http} service). It applies
 * Envoy 1.27.1's premature-reset rule against rapid reset (CVE-2023-44487): once the connection
 * has opened {@code http2.prematureResetMinStreams} streams, it is closed (GOAWAY
 * ENHANCE_YOUR_CALM) as soon as at least half of its streams were reset by the client within
 * {@code http2.prematureResetMinLifetime} of opening. It also runs the drain: a drain (SIGTERM) or
 * {@code http2.maxConnectionAge} sends Envoy's two-step GOAWAY, first with the highest stream id
 * (no stream in flight is refused), after {@code http2.drainNotice} the final one with the last
 * stream id, after which open streams get {@code timeouts.drain} to finish. Connection errors
 * found by Netty's limits are counted and logged here.
 */
final class ConnectionGuard extends ChannelInboundHandlerAdapter {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ConnectionGuard.class);

    private final Connection connection;
    private final Http2Termination h2;
    private final Http2FrameCodec codec;
    private final long minLifetimeNanos;
    /** Open time of each stream the client opened and that is not closed yet (at most maxConcurrentStreams). */
    private final IntObjectHashMap<Long> opened = new IntObjectHashMap<>();
    private long streams;
    private long premature;
    private boolean draining;
    private boolean abusive;
    private ScheduledFuture<?> maxAge;
    private ChannelHandlerContext ctx;

    ConnectionGuard(Connection connection, Http2Termination h2, Http2FrameCodec codec) {
        this.connection = connection;
        this.h2 = h2;
        this.codec = codec;
        this.minLifetimeNanos = h2.limits().prematureResetMinLifetime().toNanos();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        // Every GOAWAY this connection sends, whoever sends it (drain, the guard, or Netty's own limits,
        // whose outbound connection errors reach no handler).
        codec.connection().addListener(new Http2ConnectionAdapter() {
            @Override
            public void onGoAwaySent(int lastStreamId, long errorCode, ByteBuf debugData) {
                h2.metrics().goAwaySent();
                if (errorCode != Http2Error.NO_ERROR.code() && !abusive) {
                    abusive = true;
                    h2.metrics().reset(ResetCause.PROTOCOL);
                    h2.abuse().closed(ctx.channel().remoteAddress(), connection.serverName(),
                            Http2Error.valueOf(errorCode) + ": " + debugData.toString(StandardCharsets.UTF_8));
                }
            }
        });
        long age = h2.limits().maxConnectionAge().toNanos();
        if (age > 0) {
            // +-10% so connections opened together (a deploy, a reconnect storm) do not all drain together.
            long jittered = age + (long) (age * (ThreadLocalRandom.current().nextDouble(-0.1, 0.1)));
            maxAge = ctx.executor().schedule(() -> drain(ctx, "max connection age"), jittered, TimeUnit.NANOSECONDS);
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2HeadersFrame headers && headers.stream() != null && !opened.containsKey(headers.stream().id())
                && headers.stream().state() != Http2Stream.State.CLOSED) {
            opened.put(headers.stream().id(), Long.valueOf(System.nanoTime())); // a stream's first HEADERS: it opens now
            streams++;
        } else if (msg instanceof Http2ResetFrame reset && reset.stream() != null) {
            Long at = opened.remove(reset.stream().id());
            if (at != null && System.nanoTime() - at < minLifetimeNanos) {
                premature++;
                if (streams >= h2.limits().prematureResetMinStreams() && premature * 2 >= streams) {
                    closeAbusive(ctx, ResetCause.PREMATURE, premature + " of " + streams
                            + " streams reset by the client right after opening (rapid reset)");
                }
            }
        } else if (msg instanceof Http2GoAwayFrame) {
            h2.metrics().goAwayReceived();
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2FrameStreamEvent e && e.type() == Http2FrameStreamEvent.Type.State
                && e.stream().state() == Http2Stream.State.CLOSED) {
            opened.remove(e.stream().id());
        } else if (evt == Listener.DRAIN) {
            drain(ctx, "drain");
            return;
        } else if (evt == Listener.CLOSE_NOW) {
            codec.gracefulShutdownTimeoutMillis(0); // the drain's time is over: the close does not wait for streams again
            return;
        } else if (evt instanceof ChannelInputShutdownEvent) {
            clientFinished(ctx);
        }
        ctx.fireUserEventTriggered(evt);
    }

    /**
     * The client's FIN: h2 has no half-closed connection, and the client can send nothing more, not
     * even WINDOW_UPDATE or a SETTINGS ack. The final GOAWAY goes out at once and the connection
     * closes the way a drain's second step does: its open streams get {@code timeouts.drain} to be
     * answered, then it closes, instead of lingering half-open until the idle timeout.
     */
    private void clientFinished(ChannelHandlerContext ctx) {
        if (!ctx.channel().isActive() || abusive) {
            return;
        }
        draining = true;
        finalGoAway(ctx);
    }

    /**
     * A stream found its service no longer served by this connection's stage (its protocol changed
     * between {@code http} and {@code http2}/{@code grpc}): the connection is drained as a drain
     * does, so the caller reconnects and gets the right stage; one INFO line per connection.
     */
    void serviceChanged(String why) {
        if (!draining && ctx.channel().isActive()) {
            log.info("{} {} h2 connection drained (sni {}): {}", connection.listener().name(), ctx.channel().remoteAddress(),
                    connection.serverName(), why);
            drain(ctx, why);
        }
    }

    /** Envoy's two-step GOAWAY; the second step closes the channel, which Netty turns into a graceful shutdown. */
    private void drain(ChannelHandlerContext ctx, String why) {
        if (draining || !ctx.channel().isActive()) {
            return;
        }
        draining = true;
        ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR).setExtraStreamIds(Integer.MAX_VALUE));
        long notice = Math.min(h2.limits().drainNotice().toNanos(), h2.limits().drainTimeout().toNanos());
        ctx.executor().schedule(() -> {
            if (ctx.channel().isActive()) {
                finalGoAway(ctx);
            }
        }, notice, TimeUnit.NANOSECONDS);
    }

    /**
     * The final GOAWAY, naming the last stream taken; closing then waits up to timeouts.drain for
     * open streams (Netty's graceful shutdown) before the connection closes.
     */
    private static void finalGoAway(ChannelHandlerContext ctx) {
        ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
        ctx.channel().close();
    }

    private void closeAbusive(ChannelHandlerContext ctx, ResetCause cause, String why) {
        if (abusive) {
            return;
        }
        abusive = true;
        h2.metrics().reset(cause);
        h2.abuse().closed(ctx.channel().remoteAddress(), connection.serverName(), why);
        codec.gracefulShutdownTimeoutMillis(0); // no grace for an abusive client: close once GOAWAY is out
        ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.ENHANCE_YOUR_CALM));
        ctx.channel().close();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof Http2Exception && !(cause instanceof Http2Exception.StreamException)) {
            return; // a connection error: Netty sent GOAWAY (counted above) and closes the connection
        }
        ctx.fireExceptionCaught(cause);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (maxAge != null) {
            maxAge.cancel(false);
        }
        opened.clear();
        ctx.fireChannelInactive();
    }
}
