package io.meshgate.gateway.h2;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * What the gateway answers itself on an h2 stream it cannot serve. A gRPC call gets what gRPC
 * clients understand, as Envoy answers: HTTP 200, trailers-only, {@code grpc-status} and a
 * percent-encoded {@code grpc-message} (gRPC's PROTOCOL-HTTP2); anything else a plain-text status.
 * Also reads {@code grpc-timeout} (gRPC's {@code TimeoutValue TimeoutUnit}).
 */
final class GrpcAnswers {

    /** gRPC status codes the gateway produces. */
    static final int DEADLINE_EXCEEDED = 4;
    static final int UNAVAILABLE = 14;

    static final AsciiString GRPC_STATUS = AsciiString.cached("grpc-status");
    static final AsciiString GRPC_MESSAGE = AsciiString.cached("grpc-message");
    static final AsciiString GRPC_TIMEOUT = AsciiString.cached("grpc-timeout");
    private static final AsciiString APPLICATION_GRPC = AsciiString.cached("application/grpc");

    private GrpcAnswers() {}

    /**
     * Writes and flushes the gateway's own answer to a stream through {@code out}: a gRPC call gets
     * HTTP 200 with {@code grpcStatus} (trailers-only), anything else {@code status} with {@code why}
     * as a plain-text body. A caller still sending its request ({@code requestDone} false) then gets
     * RST_STREAM(NO_ERROR) (RFC 9113 8.1: the response is complete, the client may stop sending),
     * after the answer is flushed: a reset drops the stream's DATA still queued for its window.
     */
    static void write(Consumer<Http2StreamFrame> out, Runnable flush, ByteBufAllocator alloc, boolean grpc, int status,
                      int grpcStatus, String why, boolean requestDone) {
        if (grpc) {
            out.accept(new DefaultHttp2HeadersFrame(grpc(grpcStatus, why), true));
        } else {
            ByteBuf body = plainBody(alloc, why);
            out.accept(new DefaultHttp2HeadersFrame(plain(status, body.readableBytes()), false));
            out.accept(new DefaultHttp2DataFrame(body, true));
        }
        flush.run();
        if (!requestDone) {
            out.accept(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR));
            flush.run();
        }
    }

    /** A trailers-only gRPC answer (send with END_STREAM). */
    static Http2Headers grpc(int grpcStatus, String message) {
        return new DefaultHttp2Headers()
                .status(AsciiString.of("200"))
                .set(HttpHeaderNames.CONTENT_TYPE, APPLICATION_GRPC)
                .setInt(GRPC_STATUS, grpcStatus)
                .set(GRPC_MESSAGE, percentEncode(message));
    }

    /** Headers of a plain-text error answer; the body follows in one DATA frame. */
    static Http2Headers plain(int status, int length) {
        return new DefaultHttp2Headers()
                .status(AsciiString.of(Integer.toString(status)))
                .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, length);
    }

    static ByteBuf plainBody(ByteBufAllocator alloc, String message) {
        byte[] bytes = (message + "\n").getBytes(StandardCharsets.UTF_8);
        return alloc.buffer(bytes.length).writeBytes(bytes);
    }

    /** gRPC's percent-encoding: printable ASCII except '%' passes, everything else is %XX of its UTF-8 bytes. */
    static String percentEncode(String message) {
        StringBuilder out = new StringBuilder(message.length());
        for (byte b : message.getBytes(StandardCharsets.UTF_8)) {
            if (b >= 0x20 && b <= 0x7e && b != '%') {
                out.append((char) b);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
            }
        }
        return out.toString();
    }

    /**
     * The deadline a {@code grpc-timeout} value asks for, in nanoseconds; -1 when absent or malformed
     * (gRPC: at most 8 digits, then one of H M S m u n).
     */
    static long timeoutNanos(CharSequence value) {
        if (value == null || value.length() < 2 || value.length() > 9) {
            return -1;
        }
        long amount = 0;
        for (int i = 0; i < value.length() - 1; i++) {
            char c = value.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            amount = amount * 10 + (c - '0');
        }
        TimeUnit unit;
        switch (value.charAt(value.length() - 1)) {
            case 'H' -> {
                return TimeUnit.HOURS.toNanos(amount);
            }
            case 'M' -> {
                return TimeUnit.MINUTES.toNanos(amount);
            }
            case 'S' -> unit = TimeUnit.SECONDS;
            case 'm' -> unit = TimeUnit.MILLISECONDS;
            case 'u' -> unit = TimeUnit.MICROSECONDS;
            case 'n' -> unit = TimeUnit.NANOSECONDS;
            default -> {
                return -1;
            }
        }
        return unit.toNanos(amount);
    }
}
