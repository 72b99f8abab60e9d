package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.PeerRefusedException.Reason;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.testing.TestPki;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
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
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SniHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.Mapping;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The upstream (re-originated mTLS) context against a real endpoint on loopback: the endpoint sees
 * the gateway's identity and the outbound SNI verbatim, and an endpoint outside the bundle is refused.
 */
@Timeout(60)
class UpstreamContextTest {

    static final String SNI = "outbound_.8080_._.httpbin.default.svc.cluster.local";
    static final Instant NOW = Instant.now();

    @TempDir
    static Path dir;
    static EventLoopGroup group;
    static ClusterCa clusterA;
    static TlsMaterial material;

    @BeforeAll
    static void setUp() throws Exception {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        clusterA = ClusterCa.create("cluster-a", "cluster.local", NOW);
        IssuedIdentity gateway = clusterA.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/eastwest"),
                List.of(), Duration.ofDays(1), NOW);
        material = TlsMaterial.load(new TlsFiles(TestPki.write(dir.resolve("chain.pem"), gateway.chain().toArray()),
                TestPki.write(dir.resolve("key.pem"), gateway.key()),
                TestPki.write(dir.resolve("bundle.pem"), clusterA.rootCert())), Set.of("cluster.local"));
    }

    @AfterAll
    static void tearDown() throws InterruptedException {
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
    }

    @Test
    void providerIsBoringSsl() throws Exception {
        assertThat(OpenSsl.isAvailable()).as("netty-tcnative: %s", OpenSsl.unavailabilityCause()).isTrue();
        assertThat(OpenSsl.versionString()).contains("BoringSSL");
        SSLEngine server = material.serverContext().newEngine(io.netty.buffer.ByteBufAllocator.DEFAULT);
        SSLEngine client = material.upstreamContext().newEngine(io.netty.buffer.ByteBufAllocator.DEFAULT, SNI, 443);
        try {
            assertThat(server.getClass().getName()).contains("OpenSslEngine");
            assertThat(client.getClass().getName()).contains("OpenSslEngine");
            // BoringSSL lists the SSLv2Hello pseudo-protocol; no real protocol below TLS 1.2 may be on.
            assertThat(server.getEnabledProtocols()).contains("TLSv1.3", "TLSv1.2").doesNotContain("TLSv1.1", "TLSv1", "SSLv3");
            assertThat(server.getNeedClientAuth()).isTrue();
        } finally {
            io.netty.util.ReferenceCountUtil.release(server);
            io.netty.util.ReferenceCountUtil.release(client);
        }
    }

    @Test
    void endpointSeesTheGatewayIdentityAndTheOutboundSniVerbatim() throws Exception {
        IssuedIdentity httpbin = clusterA.issue(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/httpbin"), List.of(),
                Duration.ofDays(1), NOW);
        Endpoint endpoint = new Endpoint(httpbin.key(), httpbin.chain());
        try {
            assertThat(connect(endpoint).get(5, TimeUnit.SECONDS)).isNull();
            Endpoint.Seen seen = endpoint.seen.get(5, TimeUnit.SECONDS);
            assertThat(seen.sni()).isEqualTo(SNI);
            assertThat(SpiffeId.of(seen.peer())).isEqualTo(material.servingId());
        } finally {
            endpoint.close();
        }
    }

    @Test
    void endpointOutsideTheBundleIsRefused() throws Exception {
        TestPki.Ca rogueCa = TestPki.root("rogue");
        TestPki.Issued rogue = rogueCa.issue("spiffe://cluster.local/ns/default/sa/httpbin");
        Endpoint endpoint = new Endpoint(rogue.key(), List.of(rogue.leaf(), rogueCa.cert()));
        try {
            Throwable failure = connect(endpoint).get(5, TimeUnit.SECONDS);
            assertThat(failure).isNotNull();
            assertThat(PeerRefusedException.reasonOf(failure)).contains(Reason.UNTRUSTED_ROOT);
        } finally {
            endpoint.close();
        }
    }

    /** Handshakes with the upstream context; completes with null on success or the failure. */
    private CompletableFuture<Throwable> connect(Endpoint endpoint) throws InterruptedException {
        CompletableFuture<Throwable> result = new CompletableFuture<>();
        Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(material.upstreamHandler(ch.alloc(), SNI, 8080),
                                new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                                        if (evt instanceof SslHandshakeCompletionEvent done) {
                                            result.complete(done.cause());
                                            ctx.close();
                                        }
                                    }

                                    @Override
                                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                        ctx.close();
                                    }
                                });
                    }
                })
                .connect(endpoint.channel.localAddress()).sync().channel();
        ch.closeFuture().addListener(f -> result.complete(new IllegalStateException("closed before the handshake")));
        return result;
    }

    /** A TLS endpoint that requires a client certificate and records the SNI and the client leaf. */
    private static final class Endpoint {
        record Seen(String sni, X509Certificate peer) {}

        final CompletableFuture<Seen> seen = new CompletableFuture<>();
        final Channel channel;

        Endpoint(PrivateKey key, List<X509Certificate> chain) throws Exception {
            SslContext context = SslContextBuilder.forServer(key, chain.toArray(new X509Certificate[0]))
                    .sslProvider(SslProvider.OPENSSL).clientAuth(ClientAuth.REQUIRE)
                    .trustManager(InsecureTrustManagerFactory.INSTANCE).build();
            AtomicReference<String> sni = new AtomicReference<>();
            Mapping<String, SslContext> mapping = name -> {
                sni.set(name);
                return context;
            };
            channel = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new SniHandler(mapping), new ChannelInboundHandlerAdapter() {
                                @Override
                                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
                                    if (evt instanceof SslHandshakeCompletionEvent done && done.isSuccess()) {
                                        SslHandler ssl = ctx.pipeline().get(SslHandler.class);
                                        seen.complete(new Seen(sni.get(),
                                                (X509Certificate) ssl.engine().getSession().getPeerCertificates()[0]));
                                    }
                                    ctx.fireUserEventTriggered(evt);
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

        void close() throws InterruptedException {
            channel.close().await(5, TimeUnit.SECONDS);
        }
    }
}
