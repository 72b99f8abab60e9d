package io.meshgate.demo;

import io.meshgate.tls.PeerRefusedException;
import io.meshgate.tls.SpiffeId;
import io.meshgate.tls.TlsFiles;
import io.meshgate.tls.TlsMaterialException;
import io.meshgate.tls.TlsMaterialSource;
import io.meshgate.tls.TrustRoot;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * A demo "pod": an mTLS server with its own workload identity that verifies callers against the
 * federated bundle (re-read when the file changes, as a sidecar does) and answers any HTTP/1.1
 * request with who called ({@link WhoAmI}): the peer's SPIFFE ID, the root that signed the peer's
 * chain, the {@code X-Forwarded-Client-Cert} header if a gateway added one, and its own name.
 */
final class DemoPod implements AutoCloseable {

    static final Duration BUNDLE_POLL = Duration.ofMillis(250);
    static final Duration BUNDLE_DEBOUNCE = Duration.ofMillis(50);

    private final String name;
    private final String cluster;
    private final InetSocketAddress address;
    private final TlsMaterialSource tls;
    private final AtomicInteger refused = new AtomicInteger();
    private Channel server;

    private DemoPod(String name, String cluster, InetSocketAddress address, TlsMaterialSource tls) {
        this.name = name;
        this.cluster = cluster;
        this.address = address;
        this.tls = tls;
    }

    /** Loads the pod's identity and bundle, follows their changes and listens on {@code address}. */
    static DemoPod start(String name, String cluster, InetSocketAddress address, TlsFiles files, EventLoopGroup group)
            throws TlsMaterialException, IOException, InterruptedException {
        TlsMaterialSource tls = new TlsMaterialSource(files, Set.of(), new SimpleMeterRegistry(), BUNDLE_POLL, BUNDLE_DEBOUNCE);
        DemoPod pod = new DemoPod(name, cluster, address, tls);
        try {
            tls.start();
            pod.server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(tls.current().serverHandler(ch.alloc()), new HttpServerCodec(),
                                    new HttpObjectAggregator(64 * 1024), pod.new Answer());
                        }
                    })
                    .bind(address).sync().channel();
        } catch (IOException | InterruptedException | RuntimeException e) {
            pod.close();
            throw e;
        }
        return pod;
    }

    String name() {
        return name;
    }

    InetSocketAddress address() {
        return address;
    }

    /** Handshakes this pod refused (a caller whose chain leads to no root of the bundle, or no SPIFFE ID). */
    int refusedHandshakes() {
        return refused.get();
    }

    /** Roots in the bundle the pod verifies with right now. */
    int trustRoots() {
        return tls.current().bundle().roots().size();
    }

    /** Answers one request with who called, then closes (one request per connection keeps the demo's counting simple). */
    private final class Answer extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof SslHandshakeCompletionEvent e && !e.isSuccess()) {
                refused.incrementAndGet();
                ctx.close();
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            SslHandler ssl = ctx.pipeline().get(SslHandler.class);
            String body;
            HttpResponseStatus status = HttpResponseStatus.OK;
            try {
                body = whoAmI(ssl.engine().getSession().getPeerCertificates(),
                        req.headers().get(WhoAmI.XFCC_HEADER)).toText();
            } catch (SSLPeerUnverifiedException | PeerRefusedException e) {
                status = HttpResponseStatus.FORBIDDEN;
                body = "pod: " + name + "\nerror: " + e.getMessage() + "\n";
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(bytes));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length)
                    .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close(); // a refused handshake surfaces here too; it is counted from the handshake event
        }
    }

    private WhoAmI whoAmI(Certificate[] peerChain, String xfcc) throws PeerRefusedException {
        X509Certificate leaf = (X509Certificate) peerChain[0];
        X509Certificate top = (X509Certificate) peerChain[peerChain.length - 1];
        Optional<TrustRoot> root = tls.current().bundle().roots().stream().filter(r -> signed(top, r)).findFirst();
        return new WhoAmI(name, cluster, SpiffeId.of(leaf).toString(),
                root.map(TrustRoot::subject).orElse("-"), root.map(TrustRoot::sha256).orElse("-"),
                xfcc == null ? "-" : xfcc);
    }

    private static boolean signed(X509Certificate top, TrustRoot root) {
        if (top.equals(root.certificate())) {
            return true;
        }
        if (!top.getIssuerX500Principal().equals(root.certificate().getSubjectX500Principal())) {
            return false;
        }
        try {
            top.verify(root.certificate().getPublicKey());
            return true;
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    @Override
    public void close() {
        if (server != null) {
            server.close().syncUninterruptibly();
        }
        tls.close();
    }
}
