package io.meshgate.gateway.h2;

import io.meshgate.gateway.upstream.EndpointPicker;
import io.meshgate.routing.Endpoint;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.VoidChannelPromise;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Exception;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2FrameStreamEvent;
import io.netty.handler.codec.http2.Http2FrameStreamException;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.collection.IntObjectHashMap;
import io.netty.util.collection.IntObjectMap;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Consumer;

/**
 * One pooled h2 connection to an endpoint, and the last handler of its pipeline (after Netty's
 * {@link Http2FrameCodec}): opens the streams of downstream exchanges with {@link #newStream()}
 * and their first HEADERS, and dispatches every frame and stream event the codec delivers to the
 * {@link UpstreamStream} that owns the stream (by stream id: Netty's frame streams carry no
 * attachment). One handler for all streams of the connection, as Armeria's h2 client
 * ({@code Http2ResponseDecoder}) and Netty's frame-codec users do, instead of a child channel per
 * stream. It also counts the streams the gateway opened on it (the pool's capacity and the
 * picker's active count per endpoint), stops taking new ones once the endpoint sent GOAWAY (or
 * the connection is closing) and closes itself when such a connection has no stream left, as
 * Armeria's and reactor-netty's h2 pools do. A connection that dies tells each of its open
 * streams once. Confined to its event loop.
 */
final class H2Upstream extends Http2ChannelDuplexHandler {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(H2Upstream.class);

    /** A stream the codec would not open (stream ids exhausted, the endpoint's stream limit, a closing connection): nothing was sent. */
    static final class RefusedStreamException extends Exception {
        RefusedStreamException(Endpoint endpoint, Throwable cause) {
            super("endpoint " + endpoint + " connection refused a new stream: " + cause, cause, false, false);
        }
    }

    private final Channel channel;
    private final Endpoint endpoint;
    /** Something was written since the last flush. */
    private boolean unflushed;
    private final Http2Connection connection;
    private final int maxStreams;
    private final Http2Metrics metrics;
    private final EndpointPicker picker;
    private final Consumer<H2Upstream> retired;
    private final IntObjectMap<UpstreamStream> streams = new IntObjectHashMap<>();
    /** Streams that got frames in the current read, told once it completes. */
    private final ArrayDeque<UpstreamStream> readers = new ArrayDeque<>();
    /** Stream writes need no promise: a stream's failure reaches its exchange as a reset or close event. */
    private final VoidChannelPromise quiet;
    private ChannelHandlerContext ctx;
    /** Streams reserved or open, including those not yet in {@link #streams}. */
    private int reserved;
    private boolean goingAway;

    H2Upstream(Channel channel, Endpoint endpoint, Http2FrameCodec codec, int maxStreams, Http2Metrics metrics,
               EndpointPicker picker, Consumer<H2Upstream> retired) {
        this.channel = channel;
        this.endpoint = endpoint;
        this.connection = codec.connection();
        this.maxStreams = maxStreams;
        this.metrics = metrics;
        this.picker = picker;
        this.retired = retired;
        this.quiet = new VoidChannelPromise(channel, false);
    }

    @Override
    protected void handlerAdded0(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    Endpoint endpoint() {
        return endpoint;
    }

    /** Whether a new stream may go on this connection now. */
    boolean hasCapacity() {
        return !goingAway && channel.isActive() && !connection.goAwayReceived()
                && reserved < Math.min(maxStreams, connection.local().maxActiveStreams());
    }

    /**
     * Opens a stream for {@code receiver} by writing its first HEADERS (not flushed). Netty assigns
     * the stream id on that write and fails it at once when the stream cannot be created (ids
     * exhausted, which Netty also treats as a GOAWAY; the endpoint's limit; a going-away
     * connection): then nothing went out and the caller may try elsewhere.
     */
    UpstreamStream open(Http2Headers headers, boolean endStream,
                        UpstreamStream.Receiver receiver) throws RefusedStreamException {
        reserve();
        Http2FrameStream frameStream = newStream();
        ChannelPromise headersWritten = ctx.newPromise();
        ctx.write(new DefaultHttp2HeadersFrame(headers, endStream).stream(frameStream), headersWritten);
        unflushed = true;
        Http2Stream stream = frameStream.id() > 0 ? connection.stream(frameStream.id()) : null;
        Throwable refused = headersWritten.cause();
        if (refused != null || stream == null) {
            if (stream != null) {
                // Created but its HEADERS failed to encode: Netty closes it without a frame on the wire.
                ctx.write(new DefaultHttp2ResetFrame(Http2Error.CANCEL).stream(frameStream), quiet);
            }
            release();
            throw new RefusedStreamException(endpoint, refused != null ? refused : new IllegalStateException("stream not created"));
        }
        UpstreamStream up = new UpstreamStream(this, frameStream, stream, receiver);
        streams.put(frameStream.id(), up);
        picker.connected(endpoint);
        return up;
    }

    private void reserve() {
        reserved++;
        metrics.upstreamStreams().incrementAndGet();
    }

    /** A stream's reservation ends (it closed, was reset, or never opened). */
    private void release() {
        reserved--;
        metrics.upstreamStreams().decrementAndGet();
        if (reserved == 0 && (goingAway || connection.goAwayReceived())) {
            channel.close();
        }
    }

    /** {@code stream} is detached from its exchange: it no longer gets frames and its slot is free. */
    void release(UpstreamStream stream) {
        streams.remove(stream.id());
        picker.disconnected(endpoint);
        release();
    }

    void write(Http2StreamFrame frame) {
        ctx.write(frame, quiet);
        unflushed = true;
    }

    /**
     * Flushes what was written since the last flush; nothing when nothing was. Every stream a
     * caller's read fed asks for a flush at the end of that read, and an empty flush still costs a
     * promise and a pass through the codec and the TLS handler.
     */
    void flush() {
        if (unflushed) {
            unflushed = false;
            ctx.flush();
        }
    }

    boolean isWritable(Http2Stream stream) {
        return connection.remote().flowController().isWritable(stream);
    }

    /** Returns {@code bytes} of {@code stream}'s DATA to the endpoint's windows; true when a WINDOW_UPDATE is to be flushed. */
    boolean consume(Http2Stream stream, int bytes) {
        try {
            boolean windowUpdate = connection.local().flowController().consumeBytes(stream, bytes);
            unflushed |= windowUpdate;
            return windowUpdate;
        } catch (Http2Exception e) {
            // More bytes returned than received: a bug here, and the connection's windows are no longer known.
            log.warn("h2 connection to {}: flow-control accounting failed, closing it: {}", endpoint, e.toString());
            ctx.close();
            return false;
        }
    }

    void reset(Http2FrameStream frameStream, Http2Stream stream, long errorCode) {
        if (stream.state() != Http2Stream.State.CLOSED && channel.isActive()) {
            ctx.write(new DefaultHttp2ResetFrame(errorCode).stream(frameStream), quiet);
            unflushed = false;
            ctx.flush();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2StreamFrame frame && frame.stream() != null) {
            UpstreamStream up = streams.get(frame.stream().id());
            if (up == null) {
                unowned(frame);
                return;
            }
            if (!up.readPending) {
                up.readPending = true;
                readers.add(up);
            }
            if (frame instanceof Http2ResetFrame reset) {
                up.upstreamReset(reset.errorCode());
            } else {
                up.read(frame);
            }
            return;
        }
        if (msg instanceof Http2GoAwayFrame goAway) {
            metrics.goAwayReceived();
            if (log.isDebugEnabled()) {
                log.debug("endpoint {} sent GOAWAY ({}, last stream {}): no new streams on this connection", endpoint,
                        goAway.errorCode(), goAway.lastStreamId());
            }
            retire();
            unprocessed(goAway.lastStreamId());
        }
        ReferenceCountUtil.release(msg); // SETTINGS, PING acks and GOAWAY end here; the codec acted on them
    }

    /**
     * The streams above a GOAWAY's last stream id, which the endpoint will not process (RFC 9113
     * section 6.8): their exchanges hear it before the codec closes them (it does once this frame has
     * been read), so they can send the request again on another connection: an endpoint that ends
     * connections with a single GOAWAY (nginx after {@code keepalive_requests}) otherwise fails every
     * stream that crossed it.
     */
    private void unprocessed(int lastStreamId) {
        if (streams.isEmpty()) {
            return;
        }
        List<UpstreamStream> above = new ArrayList<>();
        for (UpstreamStream up : streams.values()) {
            if (up.id() > lastStreamId) {
                above.add(up);
            }
        }
        above.sort(Comparator.comparingInt(UpstreamStream::id)); // sent again in the order they were sent
        for (UpstreamStream up : above) {
            up.unprocessed();
        }
    }

    /** A frame of a stream no exchange owns (its exchange reset it meanwhile): its window goes back at once. */
    private void unowned(Http2StreamFrame frame) {
        if (frame instanceof Http2DataFrame data) {
            Http2Stream stream = connection.stream(frame.stream().id());
            if (stream != null) {
                consume(stream, data.initialFlowControlledBytes());
            }
        }
        ReferenceCountUtil.release(frame);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        UpstreamStream up;
        while ((up = readers.poll()) != null) {
            up.readPending = false;
            up.receiver().upstreamReadComplete();
        }
        ctx.fireChannelReadComplete();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2FrameStreamEvent event) {
            UpstreamStream up = streams.get(event.stream().id());
            if (up != null) {
                if (event.type() == Http2FrameStreamEvent.Type.Writability) {
                    up.writabilityChanged();
                } else if (event.stream().state() == Http2Stream.State.CLOSED) {
                    up.closed();
                }
            }
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    /** No new streams; the connection closes once its last stream does. */
    private void retire() {
        if (!goingAway) {
            goingAway = true;
            retired.accept(this);
        }
        if (reserved == 0) {
            channel.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        goingAway = true;
        retired.accept(this);
        readers.clear();
        // Before the codec closes its streams: each open stream learns once that its connection is gone.
        for (UpstreamStream up : new ArrayList<>(streams.values())) {
            up.closed();
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof Http2FrameStreamException e) {
            // The endpoint broke the protocol on one stream: the frame codec leaves resetting it to the application.
            log.debug("h2 stream to {} failed: {}", endpoint, cause.toString());
            UpstreamStream up = streams.get(e.stream().id());
            if (up != null) {
                up.failed(e.error().code());
            } else if (e.stream().state() != Http2Stream.State.CLOSED) {
                ctx.writeAndFlush(new DefaultHttp2ResetFrame(e.error()).stream(e.stream()), quiet);
            }
            return;
        }
        if (log.isDebugEnabled()) {
            log.debug("h2 connection to {} failed: {}", endpoint, cause.toString());
        }
        ctx.close();
    }
}
