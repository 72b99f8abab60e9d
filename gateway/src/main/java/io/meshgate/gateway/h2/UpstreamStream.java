package io.meshgate.gateway.h2;

import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * One stream the gateway opened on a pooled h2 connection, as the downstream exchange that owns it
 * sees it (an h2 stream, {@link DownstreamStream}, or an HTTP/1.1 request, {@link Http1ToH2}): a frame
 * stream of the connection's {@code Http2FrameCodec}, not a child channel, so a request costs no
 * pipeline, promise or close listener on the upstream side (Armeria's h2 client keeps the same
 * shape: one connection handler, a small per-stream object).
 *
 * <p>Backpressure works on the stream's flow-control window, as a child channel's
 * {@code autoRead} did: the codec returns window for DATA only when the application consumes it,
 * so DATA is consumed at once while the exchange reads, and owed while it does not ({@link
 * #reading}); the owed bytes are consumed (one WINDOW_UPDATE) when it reads again. A stalled
 * downstream therefore holds its upstream stream to one window and never its neighbours. Outbound,
 * {@link #isWritable()} is the remote flow controller's view of the stream (its window and the
 * connection's writability), and changes arrive as {@link Receiver#upstreamWritabilityChanged}.
 * Confined to the connection's event loop, which is the exchange's.
 */
final class UpstreamStream {

    /** The downstream side of an upstream stream; every call names the stream it came from. */
    interface Receiver {
        /** A HEADERS or DATA frame of the endpoint's answer; the receiver owns it (its stream is this one's). */
        void fromUpstream(UpstreamStream from, Http2StreamFrame frame);

        /** The endpoint reset the stream; it is detached already. */
        void upstreamReset(UpstreamStream from, long errorCode);

        /** The connection finished a read in which this stream got frames. */
        void upstreamReadComplete();

        void upstreamWritabilityChanged(UpstreamStream from);

        /** The stream closed (both ends done, or its connection went away); it is detached already. */
        void upstreamClosed(UpstreamStream from);

        /**
         * The endpoint never processed the stream (its GOAWAY's last stream id is below it, RFC 9113
         * section 6.8, or it reset the stream with REFUSED_STREAM, section 8.7) and nothing but the
         * request's HEADERS went on it: the exchange may send the same request again on another
         * connection. Detached already. By default, a reset.
         */
        default void upstreamUnprocessed(UpstreamStream from) {
            upstreamReset(from, Http2Error.REFUSED_STREAM.code());
        }
    }

    private final H2Upstream connection;
    private final Http2FrameStream stream;
    private final Http2Stream codecStream;
    private final Receiver receiver;
    /** DATA bytes handed to the receiver while it did not read, whose window is still closed. */
    private int owed;
    private boolean reading = true;
    private boolean attached = true;
    /** Something after the first HEADERS went out (a body or trailers): the request cannot be sent again. */
    private boolean written;
    /** The endpoint sent something on this stream. */
    private boolean answered;
    /** The endpoint reset the stream with REFUSED_STREAM before anything but its HEADERS had crossed. */
    private boolean refused;
    /** Queued for {@link Receiver#upstreamReadComplete} at the end of the connection's read. */
    boolean readPending;

    UpstreamStream(H2Upstream connection, Http2FrameStream stream, Http2Stream codecStream, Receiver receiver) {
        this.connection = connection;
        this.stream = stream;
        this.codecStream = codecStream;
        this.receiver = receiver;
    }

    int id() {
        return stream.id();
    }

    Receiver receiver() {
        return receiver;
    }

    /** Writes a DATA or HEADERS (trailers) frame on this stream; dropped once the stream is detached. */
    void write(Http2StreamFrame frame) {
        if (!attached) {
            ReferenceCountUtil.release(frame);
            return;
        }
        written = true;
        connection.write(frame.stream(stream));
    }

    void flush() {
        connection.flush();
    }

    /** Whether the endpoint's window and the connection can take more of this stream now. */
    boolean isWritable() {
        return !attached || connection.isWritable(codecStream);
    }

    /**
     * Whether the exchange takes the endpoint's DATA now (its downstream is writable). Turning it on
     * returns the window owed meanwhile.
     */
    void reading(boolean on) {
        reading = on;
        if (on && owed > 0) {
            int bytes = owed;
            owed = 0;
            if (attached && connection.consume(codecStream, bytes)) {
                connection.flush();
            }
        }
    }

    /** Resets the stream with {@code errorCode} (if it is still open) and detaches it; nothing more crosses. */
    void reset(long errorCode) {
        if (attached) {
            detach();
            connection.reset(stream, codecStream, errorCode);
        }
    }

    /** Abandons the stream: RST_STREAM(CANCEL) if it is still open, a no-op for one that ended. */
    void close() {
        reset(Http2Error.CANCEL.code());
    }

    /** A frame of this stream read from the endpoint. */
    void read(Http2StreamFrame frame) {
        answered = true;
        if (frame instanceof Http2DataFrame data) {
            int bytes = data.initialFlowControlledBytes();
            if (!attached) {
                data.release();
                connection.consume(codecStream, bytes);
                return;
            }
            receiver.fromUpstream(this, data);
            if (reading || !attached) {
                connection.consume(codecStream, bytes); // a no-op for a stream the receiver reset meanwhile
            } else {
                owed += bytes;
            }
        } else if (frame instanceof Http2HeadersFrame && attached) {
            receiver.fromUpstream(this, frame);
        } else {
            ReferenceCountUtil.release(frame);
        }
    }

    /**
     * The endpoint reset the stream. REFUSED_STREAM on a stream that carried only the request's
     * HEADERS and got nothing back means the endpoint did not process it (RFC 9113 section 8.7): the
     * exchange is told, as for a GOAWAY, that it may send the request again (to the next candidate,
     * {@link #refused()}); any other reset ends the exchange.
     */
    void upstreamReset(long errorCode) {
        if (attached) {
            detach();
            if (errorCode == Http2Error.REFUSED_STREAM.code() && !written && !answered) {
                refused = true;
                receiver.upstreamUnprocessed(this);
            } else {
                receiver.upstreamReset(this, errorCode);
            }
        }
    }

    /** Whether the endpoint itself refused the stream (RST_STREAM REFUSED_STREAM), rather than its connection going away. */
    boolean refused() {
        return refused;
    }

    void writabilityChanged() {
        if (attached) {
            receiver.upstreamWritabilityChanged(this);
        }
    }

    /** The endpoint broke the protocol on this stream: it is reset with {@code errorCode} and the exchange told it closed. */
    void failed(long errorCode) {
        if (attached) {
            detach();
            connection.reset(stream, codecStream, errorCode);
            receiver.upstreamClosed(this);
        }
    }

    /**
     * The endpoint's GOAWAY says it will not process this stream. The exchange is told it may send
     * the request again if only its HEADERS went out (and nothing came back); else it is a reset
     * (REFUSED_STREAM): the body that went with it is gone.
     */
    void unprocessed() {
        if (attached) {
            detach();
            if (!written && !answered) {
                receiver.upstreamUnprocessed(this);
            } else {
                receiver.upstreamReset(this, Http2Error.REFUSED_STREAM.code());
            }
        }
    }

    /** The stream or its connection closed. */
    void closed() {
        if (attached) {
            detach();
            receiver.upstreamClosed(this);
        }
    }

    private void detach() {
        attached = false;
        owed = 0; // a closed stream gives its unconsumed bytes back to the connection window by itself
        connection.release(this);
    }

    @Override
    public String toString() {
        return "upstream stream " + stream.id() + " to " + connection.endpoint();
    }
}
