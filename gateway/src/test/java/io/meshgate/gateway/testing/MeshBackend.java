package io.meshgate.gateway.testing;

import io.meshgate.tls.PeerIdentity;
import io.meshgate.tls.hello.ClientHelloReader;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The destination pod of the terminate tests on 127.0.0.1: its sidecar terminates mTLS (client
 * certificate required, verified against the roots it trusts) or plain TCP, and it records what
 * the gateway presented: the SNI exactly as sent, the client identity, every HTTP request's
 * headers, and how many connections it accepted (pooling shows there). It echoes bytes (TCP) or
 * answers HTTP: {@code /bytes/N} with N bytes of a fixed pattern, {@code /echo} with the request
 * body, {@code /then-idle-close} with {@code ok} and then closes the idle connection, anything
 * else with {@code ok}.
 */
public final class MeshBackend implements AutoCloseable {

    /** What the pod's app speaks. */
    public enum App { TCP_ECHO, HTTP }

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    private final Channel server;
    private final SslContext tls;
    private final AtomicInteger accepted = new AtomicInteger();
    private final List<String> serverNames = new CopyOnWriteArrayList<>();
    private final List<PeerIdentity> peers = new CopyOnWriteArrayList<>();
    private final List<HttpHeaders> requests = new CopyOnWriteArrayList<>();

    /** {@code tls} null: plaintext; the backend releases the context when closed. */
    public MeshBackend(App app, SslContext tls) throws InterruptedException {
        this.tls = tls;
        server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        accepted.incrementAndGet();
                        if (tls != null) {
                            SslHandler ssl = tls.newHandler(ch.alloc());
                            ch.pipeline().addLast(new ServerNameRecorder(), ssl, new ChannelInboundHandlerAdapter() {
                                @Override
                                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
                                    if (evt instanceof SslHandshakeCompletionEvent done && done.isSuccess()) {
                                        peers.add(PeerIdentity.of(ssl.engine().getSession()));
                                    }
                                    ctx.fireUserEventTriggered(evt);
                                }
                            });
                        }
                        if (app == App.TCP_ECHO) {
                            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    ctx.writeAndFlush(msg);
                                }
                            });
                        } else {
                            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(16 * 1024 * 1024), new HttpApp());
                        }
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    /** Reads the SNI from the raw ClientHello, byte for byte, before the SslHandler sees it. */
    private final class ServerNameRecorder extends ByteToMessageDecoder {
        private final ClientHelloReader reader = new ClientHelloReader(64 * 1024);

        @Override
        protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
            if (reader.read(in) == ClientHelloReader.Status.NEED_MORE) {
                return;
            }
            serverNames.add(String.valueOf(reader.serverName()));
            ctx.pipeline().remove(this); // hands the cumulation on, unread
        }
    }

    private final class HttpApp extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            requests.add(req.headers().copy());
            ByteBuf body;
            if (req.uri().startsWith("/bytes/")) {
                int n = Integer.parseInt(req.uri().substring("/bytes/".length()));
                // Filled as an array and copied in once: with leak detection PARANOID every ByteBuf
                // access records a stack trace, so a writeByte per byte took over 10 s for 2 MiB
                // under load and the response arrived after the client gave up.
                byte[] pattern = new byte[n];
                for (int i = 0; i < n; i++) {
                    pattern[i] = (byte) ('a' + i % 26);
                }
                body = ctx.alloc().buffer(n).writeBytes(pattern);
            } else if (req.uri().startsWith("/echo")) {
                body = req.content().retain();
            } else {
                body = Unpooled.copiedBuffer("ok", StandardCharsets.UTF_8);
            }
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
            HttpUtil.setContentLength(res, body.readableBytes());
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            HttpUtil.setKeepAlive(res, keepAlive);
            var written = ctx.writeAndFlush(res);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            } else if (req.uri().startsWith("/then-idle-close")) {
                // Advertised keep-alive, then the server's idle timeout ends the connection.
                ctx.executor().schedule(() -> ctx.close(), 100, TimeUnit.MILLISECONDS);
            }
        }
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) server.localAddress();
    }

    public String endpoint() {
        return "127.0.0.1:" + address().getPort();
    }

    public int accepted() {
        return accepted.get();
    }

    public List<String> serverNames() {
        return serverNames;
    }

    public List<PeerIdentity> peers() {
        return peers;
    }

    public List<HttpHeaders> requests() {
        return requests;
    }

    @Override
    public void close() {
        server.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        ReferenceCountUtil.release(tls);
    }
}
