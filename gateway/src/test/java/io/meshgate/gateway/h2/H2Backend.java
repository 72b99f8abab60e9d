package io.meshgate.gateway.h2;

import io.meshgate.tls.pki.IssuedIdentity;
import io.netty.bootstrap.ServerBootstrap;
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
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An h2 endpoint standing in for a gRPC pod (Netty, real sockets): mTLS with ALPN h2 or h2c with
 * prior knowledge. Every stream is answered by its path: {@code /echo} (default) answers
 * {@code 200}, the endpoint's name as body and {@code grpc-status: 0} in trailers once the request
 * ended; {@code /stream/N} sends N DATA frames; {@code /hang} answers headers only; {@code /silent} nothing; {@code /reset} resets
 * the stream (INTERNAL_ERROR); while {@link #refuse} counts down, any request is refused (REFUSED_STREAM); {@code /big/N} sends N KiB. Records every request's headers.
 */
final class H2Backend implements AutoCloseable {

    final String name;
    final ConcurrentLinkedQueue<Http2Headers> requests = new ConcurrentLinkedQueue<>();
    final AtomicInteger connections = new AtomicInteger();
    final AtomicInteger resetsReceived = new AtomicInteger();
    final AtomicInteger openStreams = new AtomicInteger();
    /** Bytes of {@code /big} answers the endpoint got onto the wire (written, not just queued). */
    final java.util.concurrent.atomic.AtomicLong bytesSent = new java.util.concurrent.atomic.AtomicLong();
    /** Bytes of request bodies the endpoint read. */
    final java.util.concurrent.atomic.AtomicLong bytesReceived = new java.util.concurrent.atomic.AtomicLong();
    /**
     * When set (before the first connection): that connection answers its first request, leaves the
     * next ones unanswered, and once {@code goAwayAfter} requests have arrived sends GOAWAY naming the
     * first as the last stream it processed, as a server ending a connection while streams are in
     * flight does (nginx at {@code keepalive_requests}); later connections answer normally.
     */
    volatile int goAwayAfter;
    /** Requests left to refuse: each is reset with REFUSED_STREAM at its HEADERS, unread, as a busy server does. */
    final AtomicInteger refuse = new AtomicInteger();
    /** Requests this endpoint refused ({@link #refuse}). */
    final AtomicInteger refused = new AtomicInteger();
    private final java.util.concurrent.atomic.AtomicReference<Channel> goAwayConnection = new java.util.concurrent.atomic.AtomicReference<>();
    private int goAwaySeen;
    private int goAwayLast;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel server;
    /** Accepted connections, closed on this loop before it stops so streams release what they queued. */
    private final io.netty.channel.group.ChannelGroup accepted =
            new io.netty.channel.group.DefaultChannelGroup(io.netty.util.concurrent.GlobalEventExecutor.INSTANCE);

    H2Backend(String name, IssuedIdentity identity, List<X509Certificate> trusted) throws InterruptedException {
        this(name, identity, trusted, Integer.MAX_VALUE);
    }

    /** {@code identity} null: h2c. {@code maxStreams}: SETTINGS_MAX_CONCURRENT_STREAMS advertised. */
    H2Backend(String name, IssuedIdentity identity, List<X509Certificate> trusted, int maxStreams) throws InterruptedException {
        this.name = name;
        SslContext ssl = identity == null ? null : serverContext(identity, trusted);
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        connections.incrementAndGet();
                        accepted.add(ch);
                        if (ssl != null) {
                            ch.pipeline().addLast(ssl.newHandler(ch.alloc()));
                        }
                        var codec = Http2FrameCodecBuilder.forServer()
                                .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(maxStreams)).build();
                        ch.pipeline().addLast(codec,
                                new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                                    @Override
                                    protected void initChannel(Http2StreamChannel s) {
                                        s.pipeline().addLast(new Answer());
                                    }
                                }));
                        // Like real gRPC servers, a connection window wider than one stream's.
                        if (ch.isActive()) {
                            Http2Names.widenConnectionWindow(codec, 1 << 20);
                        } else {
                            ch.eventLoop().execute(() -> Http2Names.widenConnectionWindow(codec, 1 << 20));
                        }
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    static SslContext serverContext(IssuedIdentity identity, List<X509Certificate> trusted) {
        try {
            return SslContextBuilder.forServer(identity.key(), identity.chain().toArray(new X509Certificate[0]))
                    .sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3", "TLSv1.2")
                    .trustManager(trusted.toArray(new X509Certificate[0])).clientAuth(ClientAuth.REQUIRE)
                    .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, "h2"))
                    .build();
        } catch (javax.net.ssl.SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    String endpoint() {
        return "127.0.0.1:" + ((InetSocketAddress) server.localAddress()).getPort();
    }

    private final class Answer extends ChannelInboundHandlerAdapter {
        private String path = "/echo";
        private long received;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            openStreams.incrementAndGet();
            // A /sink stream is paused with the DATA it was sent queued; Netty closes a stream channel whose
            // stream ended only once it read that queue (netty#13779), so close it with its connection.
            ctx.channel().parent().closeFuture().addListener(f -> ctx.channel().close());
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            openStreams.decrementAndGet();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof Http2ResetFrame) {
                resetsReceived.incrementAndGet();
                ctx.channel().config().setAutoRead(true); // a /sink stream: let Netty drain and close it
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            boolean end = false;
            if (msg instanceof Http2HeadersFrame h) {
                if (h.headers().path() != null) {
                    path = h.headers().path().toString();
                    requests.add(h.headers());
                    if (heldForGoAway(ctx)) {
                        ReferenceCountUtil.release(msg);
                        return;
                    }
                    if (path.equals("/sink")) {
                        ctx.channel().config().setAutoRead(false); // never reads the body: its window stays shut
                    }
                    if (path.equals("/reset")) {
                        ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.INTERNAL_ERROR));
                        return;
                    }
                    if (refuse.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                        refused.incrementAndGet();
                        ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM));
                        return;
                    }
                }
                end = h.isEndStream();
            } else if (msg instanceof Http2DataFrame d) {
                received += d.content().readableBytes();
                bytesReceived.addAndGet(d.content().readableBytes());
                end = d.isEndStream();
            }
            ReferenceCountUtil.release(msg);
            if (!end) {
                return;
            }
            Http2Headers response = new DefaultHttp2Headers().status("200").set("content-type", "application/grpc")
                    .set("x-endpoint", name).setLong("x-received", received);
            if (path.equals("/silent")) {
                return;
            }
            if (path.equals("/hang")) {
                ctx.writeAndFlush(new DefaultHttp2HeadersFrame(response, false));
                return;
            }
            ctx.write(new DefaultHttp2HeadersFrame(response, false));
            if (path.startsWith("/stream/")) {
                int n = Integer.parseInt(path.substring(8));
                for (int i = 0; i < n; i++) {
                    int k = i;
                    ctx.executor().schedule(() -> ctx.writeAndFlush(new DefaultHttp2DataFrame(text(name + "#" + k + "\n"))),
                            10L * i, TimeUnit.MILLISECONDS);
                }
                ctx.executor().schedule(() -> trailers(ctx), 10L * n, TimeUnit.MILLISECONDS);
                return;
            }
            if (path.startsWith("/big/")) {
                bigLeft = Integer.parseInt(path.substring(5));
                sendBig(ctx);
                return;
            }
            ctx.write(new DefaultHttp2DataFrame(text(name)));
            trailers(ctx);
        }

        /** {@link #goAwayAfter}: whether this request is left unanswered (and maybe the GOAWAY sent now). */
        private boolean heldForGoAway(ChannelHandlerContext ctx) {
            Channel parent = ctx.channel().parent();
            if (goAwayAfter <= 0 || !(goAwayConnection.compareAndSet(null, parent) || goAwayConnection.get() == parent)) {
                return false;
            }
            int id = ((io.netty.handler.codec.http2.Http2StreamChannel) ctx.channel()).stream().id();
            if (++goAwaySeen == 1) {
                goAwayLast = id;
                return false;
            }
            if (goAwaySeen == goAwayAfter) {
                Http2FrameCodec codec = parent.pipeline().get(Http2FrameCodec.class);
                codec.goAway(parent.pipeline().context(codec), goAwayLast, Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER,
                        parent.newPromise());
                parent.flush();
            }
            return true;
        }

        private int bigLeft;

        /** Writes the /big answer 1 KiB at a time while the stream can take it, as a well-behaved server does. */
        private void sendBig(ChannelHandlerContext ctx) {
            while (bigLeft > 0 && ctx.channel().isWritable()) {
                bigLeft--;
                ctx.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[1024])))
                        .addListener(f -> bytesSent.addAndGet(f.isSuccess() ? 1024 : 0));
            }
            if (bigLeft == 0) {
                bigLeft = -1;
                trailers(ctx);
            } else {
                ctx.flush();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (bigLeft > 0 && ctx.channel().isWritable()) {
                sendBig(ctx);
            }
            ctx.fireChannelWritabilityChanged();
        }

        private void trailers(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().set("grpc-status", "0")
                    .set("grpc-message", "ok from " + name), true));
        }
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        server.close().awaitUninterruptibly();
        accepted.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
