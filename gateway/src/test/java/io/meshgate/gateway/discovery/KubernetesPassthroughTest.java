package io.meshgate.gateway.discovery;

import static io.meshgate.routing.kubernetes.KubernetesObjects.notReady;
import static io.meshgate.routing.kubernetes.KubernetesObjects.port;
import static io.meshgate.routing.kubernetes.KubernetesObjects.ready;
import static io.meshgate.routing.kubernetes.KubernetesObjects.service;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slice;
import static io.meshgate.routing.kubernetes.KubernetesObjects.slicePort;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.TestConfig;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.meshgate.gateway.Gateway;
import io.meshgate.gateway.config.ConfigLoader;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.RouteError;
import io.meshgate.routing.kubernetes.ExportPolicy;
import io.meshgate.routing.kubernetes.MockApiServer;
import io.meshgate.tls.testing.TestPki;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIServerName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.StandardConstants;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Discovery drives the data path: a Service and EndpointSlice in the (mock) API server make a
 * passthrough connection reach a TLS server on 127.0.0.1; once the endpoint is gone, new
 * connections are refused. Only exported Services are routed (the default, {@code labelled}).
 */
class KubernetesPassthroughTest {

    private static final String SNI = OutboundSni.format("web.default.svc.cluster.local", 80);

    private final TestPki.Ca root = TestPki.root("cluster-a");
    private SSLContext clientTls;
    private EventLoopGroup backendGroup;
    private Channel backend;
    private MockApiServer api;
    @org.junit.jupiter.api.io.TempDir
    Path dir;
    private Gateway gateway;

    @BeforeEach
    void start() throws Exception {
        TestPki.Issued leaf = root.issue("spiffe://cluster.local/ns/default/sa/web", "web.default.svc.cluster.local");
        // BoringSSL, like the sidecars meshgate forwards to: the JDK server refuses routing names in SNI.
        SslContext serverTls = SslContextBuilder.forServer(leaf.key(), leaf.chain().toArray(X509Certificate[]::new))
                .sslProvider(SslProvider.OPENSSL).build();
        backendGroup = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        backend = new ServerBootstrap().group(backendGroup).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(serverTls.newHandler(ch.alloc()), new LineBasedFrameDecoder(256),
                                new StringDecoder(StandardCharsets.UTF_8), new StringEncoder(StandardCharsets.UTF_8),
                                new SimpleChannelInboundHandler<String>() {
                                    @Override
                                    protected void channelRead0(ChannelHandlerContext ctx, String line) {
                                        ctx.writeAndFlush("backend got " + line + "\n");
                                    }
                                });
                    }
                })
                .bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("root", root.cert());
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        clientTls = SSLContext.getInstance("TLS");
        clientTls.init(null, tmf.getTrustManagers(), null);

        api = MockApiServer.start();
        // Configured the way a user does it: a kubeconfig file named in discovery.clusters.
        api.writeKubeconfig(dir.resolve("kubeconfig.yaml"));
        Path config = TestConfig.gateway().listener("eastwest", "passthrough").cluster("cluster-a", "kubeconfig.yaml").write(dir);
        gateway = new Gateway(ConfigLoader.load(config).withoutWarmup(), config).start();
        await().atMost(Duration.ofSeconds(10)).until(gateway::ready);
    }

    @AfterEach
    void stop() throws Exception {
        gateway.close();
        api.close();
        backend.close().sync();
        backendGroup.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    /** One TLS exchange through the gateway, as a sidecar would start it: SNI = the routing name. */
    private String call() throws IOException {
        InetSocketAddress listener = gateway.listeners().get(0).localAddress();
        try (SSLSocket s = (SSLSocket) clientTls.getSocketFactory().createSocket("127.0.0.1", listener.getPort())) {
            s.setSoTimeout(5000);
            SSLParameters params = s.getSSLParameters();
            params.setServerNames(List.of(new RoutingName(SNI)));
            s.setSSLParameters(params);
            s.startHandshake();
            s.getOutputStream().write("hello\n".getBytes(StandardCharsets.UTF_8));
            s.getOutputStream().flush();
            return new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8)).readLine();
        }
    }

    /** A host_name SNI entry; {@link javax.net.ssl.SNIHostName} refuses the underscores of routing names. */
    private static final class RoutingName extends SNIServerName {
        RoutingName(String name) {
            super(StandardConstants.SNI_HOST_NAME, name.getBytes(StandardCharsets.US_ASCII));
        }
    }

    private double noRoute() {
        return gateway.metrics().registry().get("meshgate.downstream.connections")
                .tags("listener", "eastwest", "outcome", "no_route").counter().count();
    }

    @Test
    void serviceEndpointReachesTheTlsServerAndRemovingItRefusesNewConnections() throws Exception {
        int backendPort = ((InetSocketAddress) backend.localAddress()).getPort();
        api.apply(service("default", "web", port("https", 80)),
                slice("default", "web-1", "web", List.of(slicePort("https", backendPort)), ready("127.0.0.1")));
        // discovery.export defaults to labelled: an unlabelled Service is not reachable from other clusters.
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() ->
                gateway.router().resolve(SNI).equals(Resolution.refused(RouteError.NO_SUCH_SERVICE)));
        assertThatThrownBy(this::call).isInstanceOf(IOException.class);
        await().atMost(Duration.ofSeconds(2)).until(() -> noRoute() == 1);

        // Labelling its namespace exports it.
        api.apply(new NamespaceBuilder().withNewMetadata().withName("default")
                .addToLabels(ExportPolicy.LABEL, "true").endMetadata().build());
        await().atMost(Duration.ofSeconds(5)).until(() -> gateway.router().resolve(SNI).isRouted());

        assertThat(call()).isEqualTo("backend got hello");

        api.apply(slice("default", "web-1", "web", List.of(slicePort("https", backendPort)), notReady("127.0.0.1")));
        await().atMost(Duration.ofSeconds(1)).until(() -> !gateway.router().resolve(SNI).isRouted());
        assertThatThrownBy(this::call).isInstanceOf(IOException.class);
    }
}
