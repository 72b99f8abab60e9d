package io.meshgate.gateway.h2;

import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.Router;
import java.util.Optional;
import io.meshgate.gateway.listener.Connection;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.VoidChannelPromise;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.collection.IntObjectMap;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;

/**
 * The streams of one downstream h2 connection to an {@code http2}/{@code grpc} service, and the
 * last handler of its pipeline (after Netty's frame codec and the {@link ConnectionGuard}): every
 * stream the caller opens gets a {@link DownstreamStream}, and every frame and stream event the
 * codec delivers goes to the stream that owns it, by stream id. One handler for all the streams of
 * the connection instead of an {@code Http2MultiplexHandler} child channel per stream: the gateway
 * relays frames and needs none of what a child channel adds per request (a channel with its
 * pipeline, config, close promise and close task, a promise and listener per frame, a
 * WINDOW_UPDATE frame object per read), the same shape as the upstream side ({@link H2Upstream})
 * and as Armeria's and Envoy's codecs. What a child channel gave per stream is kept on the h2
 * windows: the caller's DATA is consumed (its window returned) with
 * {@code Http2LocalFlowController.consumeBytes} when its upstream stream can take it, and a
 * stream's writability is the remote flow controller's view of its window and of the connection.
 *
 * <p>The connection's route is fixed at the handshake, so this stage serves {@code http2}/{@code grpc}
 * services only; a stream that finds its service turned {@code http} (a discovery update) is
 * refused and the connection drained ({@link #serviceChanged}), and the caller's next connection
 * gets the stream channels of the HTTP/1.1 bridge. A stream's frames written during a read are
 * flushed at its end; the frames an upstream read wrote here once that read ends. A connection
 * that closes closes every stream it still has (each cancels its upstream stream once). Confined
 * to the connection's event loop.
 */
final class StreamRelay extends ChannelInboundHandlerAdapter {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StreamRelay.class);

    private final Connection connection;
    private final Http2Termination h2;
    private final String forwardedClientCert;
    private final ConnectionGuard guard;
    private final Http2Connection codec;
    private final IntObjectMap<DownstreamStream> streams = new IntObjectHashMap<>();
    /** Streams that got frames in the current read, told once it completes. */
    private final ArrayDeque<DownstreamStream> readers = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    /** Stream writes need no promise: a stream's failure reaches its exchange as a reset or close event. */
    private VoidChannelPromise quiet;
    private boolean inRead;
    private boolean unflushed;
    /** The caller's SNI, parsed at the first stream: each stream resolves the route anew, not the name. */
    private Optional<OutboundSni> sni;

    StreamRelay(Connection connection, Http2Termination h2, String forwardedClientCert, ConnectionGuard guard, Http2Connection codec) {
        this.connection = connection;
        this.h2 = h2;
        this.forwardedClientCert = forwardedClientCert;
        this.guard = guard;
        this.codec = codec;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.quiet = new VoidChannelPromise(ctx.channel(), false);
    }

    Connection connection() {
        return connection;
    }

    Http2Termination h2() {
        return h2;
    }

    String forwardedClientCert() {
        return forwardedClientCert;
    }

    EventLoop executor() {
        return ctx.channel().eventLoop();
    }

    ByteBufAllocator alloc() {
        return ctx.alloc();
    }

    SocketAddress remoteAddress() {
        return ctx.channel().remoteAddress();
    }

    /**
     * The route of the connection's service as it is now: discovery may have changed it since the
     * last stream, so every stream resolves it again (only the SNI's parse is kept).
     */
    Resolution route() {
        if (sni == null) {
            sni = OutboundSni.parse(connection.serverName());
        }
        Router router = connection.listener().router();
        return sni.isPresent() ? router.resolve(sni.get()) : router.resolve(connection.serverName());
    }

    /** Whether the connection is inside a read (what is written then is flushed at its end). */
    boolean inRead() {
        return inRead;
    }

    /** Number of streams with an exchange (tests). */
    int open() {
        return streams.size();
    }

    void write(Http2StreamFrame frame) {
        ctx.write(frame, quiet);
        unflushed = true;
    }

    /** Flushes what the streams wrote; once per batch, however many streams ask. */
    void flush() {
        if (unflushed) {
            unflushed = false;
            ctx.flush();
        }
    }

    /** Whether the caller's window for {@code stream} and the connection can take more now. */
    boolean isWritable(Http2Stream stream) {
        return codec.remote().flowController().isWritable(stream);
    }

    /** Returns {@code bytes} of {@code stream}'s DATA to the caller's windows (a WINDOW_UPDATE when due). */
    void consume(Http2Stream stream, int bytes) {
        if (bytes <= 0) {
            return;
        }
        try {
            if (codec.local().flowController().consumeBytes(stream, bytes)) {
                unflushed = true;
                if (!inRead) {
                    flush();
                }
            }
        } catch (Http2Exception e) {
            // More bytes returned than received: a bug here, and the connection's windows are no longer known.
            log.warn("{} {} h2 flow-control accounting failed, closing the connection: {}", connection.listener().name(),
                    remoteAddress(), e.toString());
            ctx.close();
        }
    }

    /** A stream found its service turned {@code http}: the connection is drained so the caller reconnects. */
    void serviceChanged(String why) {
        guard.serviceChanged(why);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        inRead = true;
        if (!(msg instanceof Http2StreamFrame frame) || frame.stream() == null) {
            ReferenceCountUtil.release(msg); // SETTINGS, PING, GOAWAY: the codec acted on them
            return;
        }
        DownstreamStream s = streams.get(frame.stream().id());
        if (s == null) {
            if (!(frame instanceof Http2HeadersFrame) || (s = opened(frame.stream())) == null) {
                unowned(frame);
                return;
            }
        }
        if (!s.readPending) {
            s.readPending = true;
            readers.add(s);
        }
        if (frame instanceof Http2ResetFrame reset) {
            s.downstreamReset(reset.errorCode());
        } else if (frame instanceof Http2HeadersFrame || frame instanceof Http2DataFrame) {
            s.read(frame);
        } else {
            ReferenceCountUtil.release(frame); // WINDOW_UPDATE (the codec applied it), PRIORITY, unknown frames
        }
    }

    /** A stream the caller opened gets its exchange (null if the codec no longer knows it). */
    private DownstreamStream opened(Http2FrameStream frameStream) {
        Http2Stream stream = codec.stream(frameStream.id());
        if (stream == null || stream.state() == Http2Stream.State.CLOSED) {
            return null;
        }
        DownstreamStream s = new DownstreamStream(this, frameStream, stream);
        streams.put(frameStream.id(), s);
        return s;
    }

    /** A frame of a stream no exchange owns (it closed meanwhile): its window goes back at once. */
    private void unowned(Http2StreamFrame frame) {
        if (frame instanceof Http2DataFrame data) {
            Http2Stream stream = codec.stream(frame.stream().id());
            if (stream != null) {
                consume(stream, data.initialFlowControlledBytes());
            }
        }
        ReferenceCountUtil.release(frame);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        inRead = false;
        DownstreamStream s;
        while ((s = readers.poll()) != null) {
            s.readPending = false;
            s.downstreamReadComplete();
        }
        flush();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2FrameStreamEvent event) {
            Http2FrameStream frameStream = event.stream();
            DownstreamStream s = streams.get(frameStream.id());
            if (event.type() == Http2FrameStreamEvent.Type.Writability) {
                if (s != null) {
                    s.downstreamWritabilityChanged();
                }
            } else if (frameStream.state() == Http2Stream.State.CLOSED) {
                if (s != null) {
                    streams.remove(frameStream.id());
                    s.closed();
                }
            } else if (s == null) {
                opened(frameStream); // counted from now on, whether its HEADERS is ever read or not
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof Http2FrameStreamException e) {
            DownstreamStream s = streams.get(e.stream().id());
            if (s != null) {
                s.failed(e.error(), cause);
            } else if (e.stream().state() != Http2Stream.State.CLOSED) {
                ctx.writeAndFlush(new DefaultHttp2ResetFrame(e.error()).stream(e.stream()), quiet);
            }
            return;
        }
        if (log.isDebugEnabled()) {
            log.debug("{} {} h2 connection failed: {}", connection.listener().name(), remoteAddress(), cause.toString());
        }
        ctx.close();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        readers.clear();
        // The codec closes its streams as the connection goes (each told above); any left are closed here, once.
        if (!streams.isEmpty()) {
            ArrayList<DownstreamStream> left = new ArrayList<>(streams.values());
            streams.clear();
            for (DownstreamStream s : left) {
                s.closed();
            }
        }
        ctx.fireChannelInactive();
    }
}
