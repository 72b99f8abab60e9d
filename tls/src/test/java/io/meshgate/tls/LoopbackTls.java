package io.meshgate.tls;

import io.netty.bootstrap.Bootstrap;
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
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import io.meshgate.tls.testing.TestPki;

/**
 * A real TLS server on 127.0.0.1 that terminates with whatever context the supplier gives per
 * connection (as the terminate listener will) and reports what the server saw of each handshake;
 * verified connections echo lines.
 */
final class LoopbackTls implements AutoCloseable {

    /** What the server learned from one handshake: the peer's identity, or the failure. */
    record ServerSide(PeerIdentity peer, Throwable failure) {
        boolean ok() {
            return failure == null;
        }
    }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    private final BlockingQueue<ServerSide> outcomes = new LinkedBlockingQueue<>();
    private final Channel server;

    LoopbackTls(Supplier<SslContext> serverContext) throws InterruptedException {
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        SslHandler ssl = serverContext.get().newHandler(ch.alloc());
                        ch.pipeline().addLast(ssl, new ChannelInboundHandlerAdapter() {
                            @Override
                            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                if (evt instanceof SslHandshakeCompletionEvent done) {
                                    if (done.isSuccess()) {
                                        try {
                                            outcomes.add(new ServerSide(PeerIdentity.of(ssl.engine().getSession()), null));
                                        } catch (Exception e) {
                                            outcomes.add(new ServerSide(null, e));
                                            ctx.close();
                                        }
                                    } else {
                                        outcomes.add(new ServerSide(null, done.cause()));
                                        ctx.close();
                                    }
                                }
                                ctx.fireUserEventTriggered(evt);
                            }

                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ctx.writeAndFlush(msg);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close();
                            }
                        });
                    }
                })
                .bind("127.0.0.1", 0).sync().channel();
    }

    int port() {
        return ((InetSocketAddress) server.localAddress()).getPort();
    }

    /** A client context (BoringSSL) presenting {@code identity}, or none when null; it trusts any server. */
    static SslContext client(TestPki.Issued identity, String... protocols) throws SSLException {
        return client(identity == null ? null : identity.key(), identity == null ? null : identity.chain(), protocols);
    }

    static SslContext client(java.security.PrivateKey key, List<X509Certificate> chain, String... protocols) throws SSLException {
        SslContextBuilder b = SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL)
                .trustManager(InsecureTrustManagerFactory.INSTANCE)
                .endpointIdentificationAlgorithm(null)
                .protocols(protocols.length == 0 ? TlsMaterial.PROTOCOLS.toArray(new String[0]) : protocols);
        if (key != null) {
            b.keyManager(key, chain.toArray(new X509Certificate[0]));
        }
        return b.build();
    }

    /** The next handshake the server finished (waits at most 5 s). */
    ServerSide nextServerSide() throws InterruptedException {
        ServerSide side = outcomes.poll(5, TimeUnit.SECONDS);
        if (side == null) {
            throw new AssertionError("server saw no handshake within 5 s");
        }
        return side;
    }

    /** Connects with {@code client}; returns what the server saw (waits at most 5 s). */
    ServerSide handshake(SslContext client) throws Exception {
        Connection c = connect(client);
        try {
            return c.serverSide();
        } finally {
            c.close();
        }
    }

    Connection connect(SslContext client) throws Exception {
        CompletableFuture<String> lines = new CompletableFuture<>();
        StringBuilder received = new StringBuilder();
        Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(client.newHandler(ch.alloc(), "outbound_.8080_._.echo.default.svc.cluster.local", 443),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        received.append(((ByteBuf) msg).toString(StandardCharsets.UTF_8));
                                        ReferenceCountUtil.release(msg);
                                        if (received.indexOf("\n") >= 0) {
                                            lines.complete(received.toString());
                                        }
                                    }

                                    @Override
                                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                        lines.completeExceptionally(cause);
                                        ctx.close();
                                    }

                                    @Override
                                    public void channelInactive(ChannelHandlerContext ctx) {
                                        lines.completeExceptionally(new IllegalStateException("closed"));
                                    }
                                });
                    }
                })
                .connect(server.localAddress()).sync().channel();
        return new Connection(ch, lines);
    }

    /** A client connection to the loopback server. */
    final class Connection implements AutoCloseable {
        private final Channel channel;
        private final CompletableFuture<String> lines;
        private ServerSide serverSide;

        Connection(Channel channel, CompletableFuture<String> lines) {
            this.channel = channel;
            this.lines = lines;
        }

        ServerSide serverSide() throws InterruptedException {
            if (serverSide == null) {
                serverSide = nextServerSide();
            }
            return serverSide;
        }

        /**
         * Sends one line and returns the echo (waits at most 5 s), or throws what the client's pipeline
         * saw: a refused handshake (the alert, in BoringSSL's words) or the close. A refusal can close
         * the channel before this write, whose own failure ({@code ClosedChannelException}) would hide
         * the alert, so the write's outcome is not what counts.
         */
        String echo(String line) throws Exception {
            channel.writeAndFlush(Unpooled.copiedBuffer(line + "\n", StandardCharsets.UTF_8)).await(5, TimeUnit.SECONDS);
            return lines.get(5, TimeUnit.SECONDS).trim();
        }

        /** Waits (at most 5 s) until the client's channel has closed, as it does once it has read a refusal. */
        void awaitClosed() throws InterruptedException {
            channel.closeFuture().await(5, TimeUnit.SECONDS);
        }

        @Override
        public void close() throws InterruptedException {
            channel.close().await(5, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() throws InterruptedException {
        server.close().await(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }
}
