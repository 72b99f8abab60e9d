package io.meshgate.gateway.h2;

import io.meshgate.tls.TlsMaterial;
import io.meshgate.tls.pki.IssuedIdentity;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A caller speaking h2 to the gateway over mTLS (BoringSSL, ALPN h2, the routing SNI sent
 * verbatim), on ONE connection: each {@link #call} opens a stream and completes with what came back.
 */
final class H2Client implements AutoCloseable {

    /** What a stream got: response headers, body, trailers, or the reset code. */
    record Reply(Http2Headers headers, String body, Http2Headers trailers, Long reset) {
        String header(String name) {
            CharSequence v = headers == null ? null : headers.get(name);
            return v == null ? null : v.toString();
        }

        String trailer(String name) {
            CharSequence v = trailers == null ? (headers == null ? null : headers.get(name)) : trailers.get(name);
            return v == null ? null : v.toString();
        }
    }

    final AtomicInteger goAways = new AtomicInteger();
    /** DATA bytes received on every stream of the connection. */
    final java.util.concurrent.atomic.AtomicLong received = new java.util.concurrent.atomic.AtomicLong();
    /** The last-stream-id of every GOAWAY received, in order. */
    final java.util.List<Integer> goAwayStreamIds = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final java.util.Set<Http2StreamChannel> streams = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel channel;

    H2Client(InetSocketAddress gateway, String sni, IssuedIdentity identity, X509Certificate trusted) throws Exception {
        SslContext ssl = tls(identity, trusted);
        CompletableFuture<String> alpn = new CompletableFuture<>();
        channel = connect(gateway, sni, ssl, alpn);
        if (!"h2".equals(alpn.get(10, TimeUnit.SECONDS))) {
            throw new IllegalStateException("gateway did not negotiate h2: " + alpn.get());
        }
    }

    /** A caller's client context: its certificate, the trusted root, ALPN h2 only. */
    static SslContext tls(IssuedIdentity identity, X509Certificate trusted) throws javax.net.ssl.SSLException {
        return SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3", "TLSv1.2")
                .trustManager(trusted).endpointIdentificationAlgorithm(null)
                .keyManager(identity.key(), identity.chain().toArray(new X509Certificate[0]))
                .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2"))
                .build();
    }

    private Channel connect(InetSocketAddress gateway, String sni, SslContext ssl, CompletableFuture<String> alpn)
            throws InterruptedException {
        return new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        SslHandler tls = TlsMaterial.upstreamHandler(ssl, ch.alloc(), sni, gateway.getPort());
                        tls.handshakeFuture().addListener(f -> {
                            if (f.isSuccess()) {
                                alpn.complete(String.valueOf(tls.applicationProtocol()));
                            } else {
                                alpn.completeExceptionally(f.cause());
                            }
                        });
                        var codec = Http2FrameCodecBuilder.forClient()
                                .initialSettings(Http2Settings.defaultSettings().pushEnabled(false)).build();
                        tls.handshakeFuture().addListener(f -> {
                            if (f.isSuccess()) {
                                Http2Names.widenConnectionWindow(codec, 1 << 20); // a stalled stream must not shut the others out
                            }
                        });
                        ch.pipeline().addLast(tls, codec,
                                new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        if (msg instanceof Http2GoAwayFrame g) {
                                            goAwayStreamIds.add(g.lastStreamId());
                                            goAways.incrementAndGet();
                                        }
                                        ReferenceCountUtil.release(msg);
                                    }
                                });
                    }
                }).connect(gateway).sync().channel();
    }

    static Http2Headers request(String path) {
        return new DefaultHttp2Headers().method("POST").scheme("https").authority("httpbin.default.svc.cluster.local")
                .path(path).set("content-type", "application/grpc").set("te", "trailers");
    }

    /** One stream: {@code headers}, then {@code body} (may be null: END_STREAM on the headers). */
    CompletableFuture<Reply> call(Http2Headers headers, byte[] body) {
        CompletableFuture<Reply> reply = new CompletableFuture<>();
        Stream stream = new Stream(reply);
        Http2StreamChannel ch = open(stream);
        ch.write(new DefaultHttp2HeadersFrame(headers, body == null));
        if (body != null) {
            ch.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(body), true));
        }
        ch.flush();
        return reply;
    }

    /** A new stream on the connection, tracked until it closes (see {@link #close}). */
    private Http2StreamChannel open(Stream stream) {
        Http2StreamChannel ch = new Http2StreamChannelBootstrap(channel).handler(stream).open().syncUninterruptibly().getNow();
        stream.channel = ch;
        streams.add(ch);
        ch.closeFuture().addListener(f -> streams.remove(ch));
        return ch;
    }

    CompletableFuture<Reply> call(String path) {
        return call(request(path), new byte[5]);
    }

    /** A stream that sends headers and then {@code chunks} of {@code size} bytes, each after the previous was written. */
    CompletableFuture<Reply> upload(String path, int chunks, int size) {
        CompletableFuture<Reply> reply = new CompletableFuture<>();
        Stream stream = new Stream(reply);
        Http2StreamChannel ch = open(stream);
        ch.writeAndFlush(new DefaultHttp2HeadersFrame(request(path), false));
        sendChunks(ch, chunks, size);
        return reply;
    }

    /** Bytes of {@link #upload} bodies written to the connection (past the stream's flow-control window). */
    final java.util.concurrent.atomic.AtomicLong uploaded = new java.util.concurrent.atomic.AtomicLong();

    private void sendChunks(Http2StreamChannel ch, int left, int size) {
        if (left == 0 || !ch.isActive()) {
            return;
        }
        ch.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[size]), left == 1))
                .addListener(f -> {
                    if (f.isSuccess()) {
                        uploaded.addAndGet(size);
                        sendChunks(ch, left - 1, size);
                    }
                });
    }

    /** Opens a stream that reads nothing it is sent (its window stays closed). */
    CompletableFuture<Reply> stalled(String path) {
        CompletableFuture<Reply> reply = new CompletableFuture<>();
        Stream stream = new Stream(reply);
        Http2StreamChannel ch = open(stream);
        ch.config().setAutoRead(false);
        ch.writeAndFlush(new DefaultHttp2HeadersFrame(request(path), true));
        stalled = ch;
        return reply;
    }

    private volatile Http2StreamChannel stalled;

    /** Lets the stream of {@link #stalled} read again. */
    void resume() {
        Http2StreamChannel ch = stalled;
        ch.eventLoop().execute(() -> {
            ch.config().setAutoRead(true);
            ch.read();
        });
    }

    /** Resets every stream still open (RST_STREAM CANCEL). */
    void resetAll() {
        for (Http2StreamChannel ch : streams) {
            ch.writeAndFlush(new io.netty.handler.codec.http2.DefaultHttp2ResetFrame(io.netty.handler.codec.http2.Http2Error.CANCEL));
        }
    }

    boolean isOpen() {
        return channel.isActive();
    }

    Channel channel() {
        return channel;
    }

    private final class Stream extends ChannelInboundHandlerAdapter {
        private final CompletableFuture<Reply> reply;
        private final ByteArrayOutputStream body = new ByteArrayOutputStream();
        private Http2Headers headers;
        private Http2Headers trailers;
        Http2StreamChannel channel;

        Stream(CompletableFuture<Reply> reply) {
            this.reply = reply;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof Http2HeadersFrame h) {
                    if (headers == null) {
                        headers = h.headers();
                    } else {
                        trailers = h.headers();
                    }
                    if (h.isEndStream()) {
                        done();
                    }
                } else if (msg instanceof Http2DataFrame d) {
                    ByteBuf c = d.content();
                    received.addAndGet(c.readableBytes());
                    byte[] b = new byte[c.readableBytes()];
                    c.readBytes(b);
                    body.writeBytes(b);
                    if (d.isEndStream()) {
                        done();
                    }
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private String body() {
            return body.toString(StandardCharsets.UTF_8);
        }

        private void done() {
            reply.complete(new Reply(headers, body(), trailers, null));
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame r) {
                reply.complete(new Reply(headers, body(), trailers, r.errorCode()));
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            reply.complete(new Reply(headers, body(), trailers, -1L));
        }
    }

    @Override
    public void close() {
        // A paused stream (stalled()) keeps the DATA frames it was sent queued in its channel, and Netty
        // closes a stream channel whose stream ended only once it read its queue (netty#13779): close
        // every stream still open with the connection, on its loop, which releases what it holds.
        channel.eventLoop().submit(() -> {
            channel.close();
            for (Http2StreamChannel ch : java.util.List.copyOf(streams)) {
                ch.close();
            }
        }).awaitUninterruptibly();
        channel.closeFuture().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
