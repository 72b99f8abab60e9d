package io.meshgate.gateway.h2;

import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;

/**
 * A frame read on one hop, made ready to be written on the other: the same frame object (its
 * stream is re-addressed by the writer) unless it carried padding, which is the reader's hop's
 * business and is not relayed. Saves a frame allocation per relayed frame in each direction.
 */
final class RelayedFrames {

    private RelayedFrames() {}

    /** {@code frame}'s payload and END_STREAM for the other hop; the payload changes hands. */
    static Http2DataFrame data(Http2DataFrame frame) {
        return frame.padding() == 0 ? frame : new DefaultHttp2DataFrame(frame.content(), frame.isEndStream());
    }

    /** {@code frame}'s END_STREAM with {@code headers} (its headers after the hop rules) for the other hop. */
    static Http2HeadersFrame headers(Http2HeadersFrame frame, Http2Headers headers) {
        return frame.padding() == 0 && frame.headers() == headers ? frame : new DefaultHttp2HeadersFrame(headers, frame.isEndStream());
    }
}
