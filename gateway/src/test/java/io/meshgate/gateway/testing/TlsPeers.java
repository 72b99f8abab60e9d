package io.meshgate.gateway.testing;

import io.meshgate.routing.OutboundSni;
import io.meshgate.tls.OutboundServerName;
import io.meshgate.tls.testing.FirstFlight;
import io.meshgate.tls.testing.TestPki;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
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
import io.netty.handler.ssl.SslProvider;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Real TLS peers for tests, all BoringSSL through netty-tcnative (the JDK's SSLEngine drops
 * SNI names with underscores): an echo server standing in for a pod, a client standing in for a
 * sidecar, and a captured ClientHello.
 */
public final class TlsPeers implements AutoCloseable {

    public static final String SNI = OutboundSni.format("httpbin.default.svc.cluster.local", 8080);
    public static final String HOST = "httpbin.default.svc.cluster.local";

    private final TestPki.Ca ca = TestPki.root("cluster-a");
    private final TestPki.Issued serverCert = ca.issue("spiffe://cluster.local/ns/default/sa/httpbin", HOST);
    private final SslContext serverContext;
    private final SslContext clientContext;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());

    /** For a test class's static {@code @AutoClose} field: one set of peers for the whole class. */
    public static TlsPeers forClass() {
        try {
            return new TlsPeers();
        } catch (Exception e) {
            throw new IllegalStateException("cannot set up the TLS peers: " + e, e);
        }
    }

    /** {@link #clientHello(String)} for {@link #SNI}, for static field initialisers. */
    public byte[] sniHello() {
        try {
            return clientHello(SNI);
        } catch (Exception e) {
            throw new IllegalStateException("cannot build the ClientHello: " + e, e);
        }
    }

    public TlsPeers() throws Exception {
        serverContext = SslContextBuilder.forServer(serverCert.key(), serverCert.chain())
                .sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3", "TLSv1.2").build();
        clientContext = SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL)
                .protocols("TLSv1.3").trustManager(ca.cert())
                // A sidecar checks the pod's identity, not the routing name, against the certificate.
                .endpointIdentificationAlgorithm(null).build();
    }

    /** A TLS echo server on 127.0.0.1; returns its address. */
    public InetSocketAddress echoServer() throws InterruptedException {
        Channel ch = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        c.pipeline().addLast(serverContext.newHandler(c.alloc()), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ctx.writeAndFlush(msg);
                            }
                        });
                    }
                }).bind("127.0.0.1", 0).sync().channel();
        return (InetSocketAddress) ch.localAddress();
    }

    /**
     * Opens TLS to {@code gateway} with {@code sni}, sends {@code payload} and returns what came
     * back once as many bytes were echoed (fails on close or timeout). {@code firstFlight}, if not
     * null, is placed on the network side to re-frame the ClientHello.
     */
    public byte[] echo(InetSocketAddress gateway, String sni, byte[] payload, ChannelHandler firstFlight) throws Exception {
        CompletableFuture<byte[]> done = new CompletableFuture<>();
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        if (firstFlight != null) {
                            c.pipeline().addLast(firstFlight);
                        }
                        SslHandler ssl = clientContext.newHandler(c.alloc(), sni, 443);
                        OutboundServerName.apply(ssl.engine(), sni);
                        c.pipeline().addLast(ssl, new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ByteBuf b = (ByteBuf) msg;
                                byte[] bytes = new byte[b.readableBytes()];
                                b.readBytes(bytes);
                                b.release();
                                received.write(bytes, 0, bytes.length);
                                if (received.size() >= payload.length) {
                                    done.complete(received.toByteArray());
                                    ctx.close();
                                }
                            }

                            @Override
                            public void channelInactive(ChannelHandlerContext ctx) {
                                done.completeExceptionally(new IllegalStateException(
                                        "closed after " + received.size() + " of " + payload.length + " bytes"));
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                done.completeExceptionally(cause);
                                ctx.close();
                            }
                        });
                        ssl.handshakeFuture().addListener(f -> {
                            if (f.isSuccess()) {
                                c.writeAndFlush(Unpooled.wrappedBuffer(payload));
                            } else {
                                done.completeExceptionally(f.cause());
                            }
                        });
                    }
                }).connect(gateway).sync().channel();
        try {
            return done.get(20, TimeUnit.SECONDS);
        } finally {
            ch.close().sync();
        }
    }

    /** The first flight a BoringSSL client sends for {@code sni} (null: no SNI at all). */
    public byte[] clientHello(String sni) throws Exception {
        return FirstFlight.of(clientContext, sni);
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        ReferenceCountUtil.release(serverContext);
        ReferenceCountUtil.release(clientContext);
    }
}
