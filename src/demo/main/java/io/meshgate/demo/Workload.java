package io.meshgate.demo;

import io.meshgate.tls.TlsFiles;
import io.meshgate.tls.TlsMaterial;
import io.meshgate.tls.TlsMaterialException;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A calling workload as its sidecar would act: mTLS with its own identity (BoringSSL), the server
 * verified against the bundle by SPIFFE ID, the SNI set to the routing name
 * {@code outbound_.PORT_._.HOST} verbatim, then one {@code GET /whoami}.
 */
final class Workload {

    static final Duration CALL_TIMEOUT = Duration.ofSeconds(5);

    private final String name;
    private final TlsMaterial tls;
    private final EventLoopGroup group;

    private Workload(String name, TlsMaterial tls, EventLoopGroup group) {
        this.name = name;
        this.tls = tls;
        this.group = group;
    }

    /** A workload whose identity and bundle are the given files (loaded once). */
    static Workload of(String name, TlsFiles files, EventLoopGroup group) throws TlsMaterialException {
        return new Workload(name, TlsMaterial.load(files, Set.of()), group);
    }

    String name() {
        return name;
    }

    String spiffeId() {
        return tls.servingId().toString();
    }

    TlsFiles files() {
        return tls.files();
    }

    /** Calls {@code to} with {@code sni}; the pod's answer, or an exception saying why there was none. */
    WhoAmI whoami(InetSocketAddress to, String sni) throws IOException, InterruptedException {
        CompletableFuture<String> answer = new CompletableFuture<>();
        Channel ch;
        try {
            ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) CALL_TIMEOUT.toMillis())
                    .handler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            SslHandler ssl = TlsMaterial.upstreamHandler(tls.upstreamContext(), c.alloc(), sni, 443);
                            c.pipeline().addLast(ssl, new HttpClientCodec(), new HttpObjectAggregator(64 * 1024),
                                    new Exchange(sni, answer));
                        }
                    }).connect(to).sync().channel();
        } catch (InterruptedException e) {
            throw e;
        } catch (Exception e) { // sync() rethrows the connect failure (a checked exception, undeclared)
            throw new IOException("cannot connect to " + to + ": " + e.getMessage(), e);
        }
        try {
            String body = answer.get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            return WhoAmI.parse(body);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            throw new IOException(cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage(), cause);
        } catch (TimeoutException e) {
            throw new IOException("no answer from " + to + " within " + CALL_TIMEOUT.toSeconds() + "s");
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        } finally {
            ch.close().sync();
        }
    }

    /** Sends the request once the handshake is done and hands the answer (or the failure) to the caller. */
    private static final class Exchange extends SimpleChannelInboundHandler<FullHttpResponse> {
        private final String sni;
        private final CompletableFuture<String> answer;

        Exchange(String sni, CompletableFuture<String> answer) {
            this.sni = sni;
            this.answer = answer;
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent e) {
                if (e.isSuccess()) {
                    FullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/whoami",
                            Unpooled.EMPTY_BUFFER);
                    req.headers().set(HttpHeaderNames.HOST, host(sni)).setInt(HttpHeaderNames.CONTENT_LENGTH, 0)
                            .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                    ctx.writeAndFlush(req);
                } else {
                    answer.completeExceptionally(e.cause());
                    ctx.close();
                }
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse res) {
            String body = res.content().toString(StandardCharsets.UTF_8);
            if (res.status().code() != 200) {
                answer.completeExceptionally(new IOException("HTTP " + res.status() + ": " + body.strip()));
            } else {
                answer.complete(body);
            }
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            answer.completeExceptionally(new IOException("connection closed without an answer"));
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            answer.completeExceptionally(cause);
            ctx.close();
        }

        private static String host(String sni) {
            int at = sni.lastIndexOf("_.");
            return at < 0 ? sni : sni.substring(at + 2);
        }
    }
}
