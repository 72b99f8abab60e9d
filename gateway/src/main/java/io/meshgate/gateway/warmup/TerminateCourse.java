package io.meshgate.gateway.warmup;

import static io.meshgate.gateway.warmup.Warmup.HOST;

import io.meshgate.gateway.config.GatewaySpec.UpstreamTls;
import io.meshgate.gateway.config.GatewaySpec.WarmupSpec;
import io.meshgate.gateway.listener.Listener;
import io.meshgate.gateway.metrics.GatewayMetrics;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.meshgate.tls.TlsMaterial;
import io.meshgate.tls.TlsMaterialSource;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiFunction;
import java.util.function.Supplier;

/**
 * The terminate warm-up: mTLS callers (the warm-up's own PKI, see {@link WarmupPki}) through a
 * terminate listener to endpoints of its own, on every path a terminate listener has: h2 to
 * {@code grpc} (a body, trailers) and {@code http2} endpoints, h2 to an HTTP/1.1 endpoint, HTTP/1.1
 * to both kinds; several requests per connection, some in parallel, then the caller closes (half of
 * the h2 callers after a GOAWAY). The h2 endpoint ends its connections with a GOAWAY and the HTTP/1.1
 * endpoint with {@code Connection: close} after a number of requests, as servers with a keep-alive
 * limit do, so the gateway's upstream pools open and retire connections too. Connection set-up and
 * teardown are then in the profile the JIT compiles the request path with: a first real connection
 * no longer throws compiled request code away.
 */
final class TerminateCourse implements Warmup.Course {

    static final int HTTP2_PORT = 8080;
    static final int GRPC_PORT = 8081;
    static final int HTTP_PORT = 8082;
    /** Connections in flight at once; an h2 caller has several streams in flight itself. */
    private static final int PARALLEL = 4;
    /**
     * A terminate connection carries many requests and a handshake on each side: a twentieth of the
     * count (500 by default, about 9,000 requests). The request path needs the requests; the
     * connections only need to be in its profile, and their handshakes were half the time.
     */
    private static final int SHARE = 20;
    private static final int ANSWER_BYTES = 1024;
    /** Requests an endpoint answers on one connection before it ends it (nginx's keep-alive limit, scaled down). */
    private static final int ENDPOINT_REQUESTS = 100;
    private static final byte[] GRPC_MESSAGE = {0, 0, 0, 0, 3, 8, 1, 16};
    private static final byte[] ANSWER = new byte[ANSWER_BYTES];

    /** How a warm-up caller talks and to which service. */
    private record Shape(boolean h2, int port, int requests, int inFlight) {}

    /** Most real terminate traffic is h2 (gRPC above all); HTTP/1.1 and the bridges both ways run too. */
    private static final List<Shape> SHAPES = List.of(
            new Shape(true, GRPC_PORT, 24, 8), new Shape(true, HTTP2_PORT, 24, 8), new Shape(false, HTTP_PORT, 8, 1),
            new Shape(true, GRPC_PORT, 24, 8), new Shape(true, HTTP_PORT, 12, 4), new Shape(true, HTTP2_PORT, 24, 8),
            new Shape(false, HTTP2_PORT, 8, 1), new Shape(true, GRPC_PORT, 24, 8));

    private final BiFunction<Router, TlsMaterialSource, Listener> listeners;
    private final UpstreamTls upstream;
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong requests = new AtomicLong();
    /** The endpoints and what they accepted: the gateway's pools keep their connections to them open. */
    private WarmupEndpoints endpoints;
    private TlsMaterialSource material;
    private SslContext h2Callers;
    private SslContext http1Callers;

    TerminateCourse(BiFunction<Router, TlsMaterialSource, Listener> listeners, UpstreamTls upstream) {
        this.listeners = listeners;
        this.upstream = upstream;
    }

    @Override
    public Listener open(EventLoopGroup group, Transport transport) throws Exception {
        WarmupPki pki = WarmupPki.create();
        material = pki.gatewayMaterial(GatewayMetrics.throwaway());
        h2Callers = pki.callerContext(ApplicationProtocolNames.HTTP_2);
        http1Callers = pki.callerContext(ApplicationProtocolNames.HTTP_1_1);
        boolean tls = upstream == UpstreamTls.MTLS;
        SslContext h2Endpoint = tls ? pki.endpointContext(ApplicationProtocolNames.HTTP_2) : null;
        SslContext http1Endpoint = tls ? pki.endpointContext(ApplicationProtocolNames.HTTP_1_1) : null;
        endpoints = new WarmupEndpoints(group, transport);
        Channel h2 = endpoint(h2Endpoint, () -> new ChannelHandler[] {
                Http2FrameCodecBuilder.forServer().build(), new H2Answers()});
        Channel http1 = endpoint(http1Endpoint, () -> new ChannelHandler[] {
                new HttpServerCodec(), new Http1Answers()});
        Router router = new Router(List.of(new StaticRoutes(List.of(service(HTTP2_PORT, h2, AppProtocol.HTTP2),
                service(GRPC_PORT, h2, AppProtocol.GRPC), service(HTTP_PORT, http1, AppProtocol.HTTP)))));
        return listeners.apply(router, material);
    }

    /** An endpoint speaking TLS first when {@code tls} is given (else in plaintext), then {@code handlers}. */
    private Channel endpoint(SslContext tls, Supplier<ChannelHandler[]> handlers) throws InterruptedException {
        return endpoints.open(ch -> {
            ChannelHandler[] protocol = handlers.get();
            if (tls == null) {
                return protocol;
            }
            ChannelHandler[] all = new ChannelHandler[protocol.length + 1];
            all[0] = tls.newHandler(ch.alloc());
            System.arraycopy(protocol, 0, all, 1, protocol.length);
            return all;
        });
    }

    private static StaticRoutes.StaticService service(int port, Channel endpoint, AppProtocol protocol) {
        int endpointPort = ((InetSocketAddress) endpoint.localAddress()).getPort();
        return new StaticRoutes.StaticService(HOST, port, List.of(Endpoint.of("127.0.0.1", endpointPort)), protocol);
    }

    @Override
    public int parallel() {
        return PARALLEL;
    }

    @Override
    public int target(WarmupSpec plan) {
        return (plan.connections() + SHARE - 1) / SHARE;
    }

    @Override
    public Warmup.Caller caller(int n) {
        Shape shape = SHAPES.get(n % SHAPES.size());
        String sni = OutboundSni.format(HOST, shape.port());
        if (shape.h2()) {
            boolean goAwayFirst = (n / SHAPES.size()) % 2 == 1;
            return new H2Caller(h2Callers, sni, shape, goAwayFirst);
        }
        return new Http1Caller(http1Callers, sni, shape);
    }

    @Override
    public Bootstrap configure(Bootstrap callers) {
        return callers;
    }

    @Override
    public long bytes() {
        return bytes.get();
    }

    @Override
    public String through(Listener listener) {
        return requests.get() + " requests over TLS (h2 and HTTP/1.1)";
    }

    @Override
    public void close() throws InterruptedException {
        if (endpoints != null) {
            endpoints.close();
        }
        if (material != null) {
            material.close();
        }
    }

    /** Installs the caller's TLS (with the routing name as SNI) and protocol handlers in front of it. */
    private abstract class CallerBase extends ChannelInboundHandlerAdapter implements Warmup.Caller {
        private final SslContext context;
        private final String sni;
        final Shape shape;
        int sent;
        int answered;
        boolean complete;
        /** The gateway ends the connection (GOAWAY): no new request, complete once those sent are answered. */
        boolean stopped;
        /** Requests to send at the end of this read. */
        private int due;

        CallerBase(SslContext context, String sni, Shape shape) {
            this.context = context;
            this.sni = sni;
            this.shape = shape;
        }

        @Override
        public boolean complete() {
            return complete;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            SslHandler ssl = TlsMaterial.upstreamHandler(context, ctx.alloc(), sni, shape.port()); // the routing name verbatim
            ctx.pipeline().addBefore(ctx.name(), null, ssl);
            for (ChannelHandler h : codec()) {
                ctx.pipeline().addBefore(ctx.name(), null, h);
            }
        }

        /** The protocol's handlers, between the TLS handler and the caller. */
        abstract ChannelHandler[] codec();

        /** The first requests, once the handshake has chosen the expected protocol. */
        abstract void start(ChannelHandlerContext ctx);

        /** One request more. */
        abstract void send(ChannelHandlerContext ctx);

        /** All answered: the caller's end of the connection. */
        abstract void finish(ChannelHandlerContext ctx);

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent done) {
                String expected = shape.h2() ? ApplicationProtocolNames.HTTP_2 : ApplicationProtocolNames.HTTP_1_1;
                String chosen = ctx.pipeline().get(SslHandler.class).applicationProtocol();
                if (done.isSuccess() && expected.equals(chosen == null ? ApplicationProtocolNames.HTTP_1_1 : chosen)) {
                    start(ctx);
                } else {
                    ctx.close();
                }
                return;
            }
            ctx.fireUserEventTriggered(evt);
        }

        /** A request answered: the next one, or the end once all are. */
        void answered(ChannelHandlerContext ctx) {
            answered++;
            requests.incrementAndGet();
            if (answered == shape.requests() || (stopped && answered == sent)) {
                complete = true;
                finish(ctx);
            } else if (sent + due < shape.requests() && !stopped) {
                due++;
            }
        }

        /**
         * The requests that replace those answered in this read go out once the read is over: an h2
         * stream whose last frame is being read still counts against the gateway's stream limit.
         */
        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (due > 0 && !complete && !stopped) {
                for (; due > 0; due--) {
                    send(ctx);
                }
                ctx.flush();
            }
            due = 0;
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** An h2 caller: {@code inFlight} streams at a time ({@code grpc}: a POST with a message, trailers back). */
    private final class H2Caller extends CallerBase {
        private final boolean goAwayFirst;
        /** Opens the caller's streams (Netty's frame codec opens them only for its handlers). */
        private final StreamOpener streams = new StreamOpener();

        H2Caller(SslContext context, String sni, Shape shape, boolean goAwayFirst) {
            super(context, sni, shape);
            this.goAwayFirst = goAwayFirst;
        }

        @Override
        ChannelHandler[] codec() {
            return new ChannelHandler[] {Http2FrameCodecBuilder.forClient().build(), streams};
        }

        /** The handshake chose h2. */
        private boolean ready;
        /** The gateway's SETTINGS came; its stream limit (null: none). */
        private boolean settled;
        private Long maxStreams;

        @Override
        void start(ChannelHandlerContext ctx) {
            ready = true;
            begin(ctx);
        }

        /** The first streams, once both the handshake and the gateway's SETTINGS are in: never more than it allows. */
        private void begin(ChannelHandlerContext ctx) {
            if (!ready || !settled || sent > 0) {
                return;
            }
            long first = Math.min(shape.inFlight(), maxStreams == null ? Long.MAX_VALUE : maxStreams);
            for (int i = 0; i < first; i++) {
                send(ctx);
            }
            ctx.flush();
        }

        @Override
        void send(ChannelHandlerContext ctx) {
            sent++;
            boolean grpc = shape.port() == GRPC_PORT;
            Http2Headers headers = new DefaultHttp2Headers().method(grpc ? "POST" : "GET").scheme("https")
                    .path(grpc ? "/meshgate.warmup.Warmup/Call" : "/warmup").authority(HOST);
            if (grpc) {
                headers.set("content-type", "application/grpc").set("te", "trailers").set("grpc-timeout", "10S");
            }
            Http2FrameStream stream = streams.open();
            // A stream the codec refuses fails its write: the connection ends (counted as failed), nothing waits.
            ctx.write(new DefaultHttp2HeadersFrame(headers, !grpc).stream(stream)).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
            if (grpc) {
                ctx.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(GRPC_MESSAGE), true).stream(stream))
                        .addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame h) {
                    CharSequence status = h.headers().status();
                    if (status != null && !"200".contentEquals(status)) {
                        ctx.close(); // not what the endpoint answers: the connection is not complete
                    } else if (h.isEndStream()) {
                        answered(ctx);
                    }
                } else if (msg instanceof Http2DataFrame d) {
                    bytes.addAndGet(d.content().readableBytes());
                    if (d.isEndStream()) {
                        answered(ctx);
                    }
                } else if (msg instanceof Http2SettingsFrame settings) {
                    settled = true;
                    maxStreams = settings.settings().maxConcurrentStreams();
                    begin(ctx);
                } else if (msg instanceof Http2GoAwayFrame) {
                    stopped = true; // the streams sent are answered (or reset); none is sent after
                    if (answered == sent && sent > 0) {
                        complete = true;
                        ctx.close();
                    }
                } else if (msg instanceof Http2ResetFrame) {
                    ctx.close();
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        void finish(ChannelHandlerContext ctx) {
            if (goAwayFirst) {
                ctx.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR)).addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.close();
            }
        }
    }

    /** An HTTP/1.1 caller: one request after another on a kept-alive connection. */
    private final class Http1Caller extends CallerBase {
        Http1Caller(SslContext context, String sni, Shape shape) {
            super(context, sni, shape);
        }

        @Override
        ChannelHandler[] codec() {
            return new ChannelHandler[] {new HttpClientCodec()};
        }

        @Override
        void start(ChannelHandlerContext ctx) {
            send(ctx);
            ctx.flush();
        }

        @Override
        void send(ChannelHandlerContext ctx) {
            sent++;
            DefaultFullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/warmup");
            request.headers().set(HttpHeaderNames.HOST, HOST).set(HttpHeaderNames.CONTENT_LENGTH, 0);
            ctx.write(request);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof HttpResponse r && r.status().code() != 200) {
                    ctx.close();
                    return;
                }
                if (msg instanceof HttpContent c) {
                    bytes.addAndGet(c.content().readableBytes());
                }
                if (msg instanceof LastHttpContent) {
                    answered(ctx);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        void finish(ChannelHandlerContext ctx) {
            ctx.close();
        }
    }

    /** A handler after the frame codec, only to open streams. */
    private static final class StreamOpener extends Http2ChannelDuplexHandler {
        Http2FrameStream open() {
            return newStream();
        }
    }

    /**
     * The h2 endpoint: a GET is answered with 1 KiB, a request with a body as a gRPC server answers
     * (a message, then {@code grpc-status: 0} in trailers); after {@link #ENDPOINT_REQUESTS} streams
     * a GOAWAY ends the connection.
     */
    private static final class H2Answers extends ChannelInboundHandlerAdapter {
        private int streams;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame h && h.isEndStream()) {
                    answer(ctx, h.stream(), false);
                } else if (msg instanceof Http2DataFrame d && d.isEndStream()) {
                    answer(ctx, d.stream(), true);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void answer(ChannelHandlerContext ctx, Http2FrameStream stream, boolean grpc) {
            Http2Headers headers = new DefaultHttp2Headers().status("200");
            if (grpc) {
                ctx.write(new DefaultHttp2HeadersFrame(headers.set("content-type", "application/grpc")).stream(stream));
                ctx.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(GRPC_MESSAGE)).stream(stream));
                ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().set("grpc-status", "0"), true).stream(stream));
            } else {
                ctx.write(new DefaultHttp2HeadersFrame(headers.set("content-type", "text/plain")
                        .setInt("content-length", ANSWER_BYTES)).stream(stream));
                ctx.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(ANSWER), true).stream(stream));
            }
            if (++streams == ENDPOINT_REQUESTS) {
                ctx.write(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
            }
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** The HTTP/1.1 endpoint: 1 KiB per request; after {@link #ENDPOINT_REQUESTS} it closes with the answer. */
    private static final class Http1Answers extends ChannelInboundHandlerAdapter {
        private int answered;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
            if (!(msg instanceof LastHttpContent)) {
                return;
            }
            ByteBuf body = Unpooled.wrappedBuffer(ANSWER);
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, ANSWER_BYTES);
            if (++answered == ENDPOINT_REQUESTS) {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            } else {
                ctx.writeAndFlush(response);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
