package io.meshgate.gateway.h2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.meshgate.gateway.testing.MeshBackend;
import io.meshgate.gateway.testing.H2Gateway;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.MtlsClient;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TlsPeers;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.RouteSource;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2Headers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * h2 downstream on a terminate listener, real sockets and BoringSSL on every hop: per-stream
 * balancing of one client connection over three endpoints, XFCC per stream, trailers relayed,
 * gRPC-shaped answers when nothing can serve, {@code grpc-timeout}, resets, h2c upstreams, h2
 * downstream to an HTTP/1.1 service next to an HTTP/1.1 caller, and a service that changes between
 * {@code http} and {@code grpc} under an open connection.
 */
class Http2TerminateTest {

    static final String LISTENER = H2Gateway.LISTENER;
    @RegisterExtension
    static final H2Gateway gateways = new H2Gateway();
    static final MeshPki pki = gateways.pki;

    H2Backend mtlsBackend(String name) throws InterruptedException {
        return new H2Backend(name, pki.backend, List.of(pki.clusterA.rootCert()));
    }

    RunningGateway gateway(String protocol, String upstream, String extra, H2Backend... backends) throws Exception {
        return gateways.start(protocol, upstream, java.util.Arrays.stream(backends).map(H2Backend::endpoint).toList(),
                "loadBalancing: {policy: round-robin}\n" + extra);
    }

    H2Client client(RunningGateway gw) throws Exception {
        return new H2Client(gw.address(), TlsPeers.SNI, pki.callerB, pki.clusterA.rootCert());
    }

    static String expectedXfcc() throws Exception {
        return gateways.expectedXfcc();
    }

    @Test
    void shouldSpreadTheStreamsOfOneConnectionOverAllEndpoints() throws Exception {
        try (H2Backend a = mtlsBackend("a"); H2Backend b = mtlsBackend("b"); H2Backend c = mtlsBackend("c");
             RunningGateway gw = gateway("grpc", "mtls", "", a, b, c); H2Client client = client(gw)) {
            Map<String, Integer> byEndpoint = new HashMap<>();
            for (int round = 0; round < 30; round++) {
                List<CompletableFuture<H2Client.Reply>> calls = new ArrayList<>();
                for (int i = 0; i < 10; i++) {
                    Http2Headers h = H2Client.request("/echo").set("x-forwarded-client-cert", "By=forged");
                    calls.add(client.call(h, new byte[] {0, 0, 0, 0, 0}));
                }
                for (CompletableFuture<H2Client.Reply> call : calls) {
                    H2Client.Reply r = call.get(10, TimeUnit.SECONDS);
                    assertThat(r.header(":status")).isEqualTo("200");
                    assertThat(r.trailer("grpc-status")).isEqualTo("0"); // trailers relayed
                    byEndpoint.merge(r.body(), 1, Integer::sum);
                }
            }
            assertThat(byEndpoint.keySet()).containsExactlyInAnyOrder("a", "b", "c");
            for (int n : byEndpoint.values()) {
                assertThat(n).isBetween(70, 130); // 300 streams, 100 each +-30 %
            }
            for (H2Backend backend : List.of(a, b, c)) {
                assertThat(backend.requests).allSatisfy(h -> {
                    assertThat(h.getAll("x-forwarded-client-cert")).extracting(CharSequence::toString)
                            .containsExactly(expectedXfcc());
                    assertThat(h.authority().toString()).isEqualTo(TlsPeers.HOST); // :authority as sent
                    assertThat(h.get("te").toString()).isEqualTo("trailers");
                });
                assertThat(backend.connections.get()).isEqualTo(1); // streams multiplexed on one pooled connection
            }
            assertThat(gw.outcomes(LISTENER, "routed")).isEqualTo(1);
            assertThat(gw.counter("meshgate.http.requests", "listener", LISTENER, "protocol", "h2", "status", "2xx"))
                    .isEqualTo(300);
        }
    }

    @Test
    void shouldRelayServerStreamingOverH2c() throws Exception {
        try (H2Backend a = new H2Backend("a", null, List.of()); RunningGateway gw = gateway("http2", "plaintext", "", a);
             H2Client client = client(gw)) {
            H2Client.Reply r = client.call("/stream/5").get(10, TimeUnit.SECONDS);
            assertThat(r.body()).isEqualTo("a#0\na#1\na#2\na#3\na#4\n");
            assertThat(r.trailer("grpc-message")).isEqualTo("ok from a");
        }
    }

    @Test
    void shouldAnswerUnavailableInGrpcWhenNoEndpointAnswers() throws Exception {
        int dead;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            dead = s.getLocalPort();
        }
        try (RunningGateway gw = gateways.start("grpc", "mtls", List.of("127.0.0.1:" + dead), "");
             H2Client client = client(gw)) {
            H2Client.Reply r = client.call("/echo").get(10, TimeUnit.SECONDS);
            assertThat(r.header(":status")).isEqualTo("200");
            assertThat(r.header("grpc-status")).isEqualTo("14");
            assertThat(r.header("grpc-message")).contains(TlsPeers.SNI).doesNotContain("Exception").doesNotContain("127.0.0.1")
                    .doesNotContain(String.valueOf(dead)); // the service, never the endpoint the caller cannot see
            // The connection stays usable for the next call.
            assertThat(client.call("/echo").get(10, TimeUnit.SECONDS).header("grpc-status")).isEqualTo("14");
            assertThat(client.isOpen()).isTrue();
        }
    }

    @Test
    void shouldSendAgainTheStreamsAnEndpointsGoAwayLeftUnprocessed() throws Exception {
        try (H2Backend a = mtlsBackend("a"); RunningGateway gw = gateway("grpc", "mtls", "", a); H2Client client = client(gw)) {
            // The endpoint's first connection answers one request, leaves the next four unanswered, then
            // sends GOAWAY naming the first as the last it processed: the four are sent again.
            a.goAwayAfter = 5;
            List<CompletableFuture<H2Client.Reply>> calls = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                calls.add(client.call(H2Client.request("/echo").method("GET"), null));
            }
            for (CompletableFuture<H2Client.Reply> call : calls) {
                H2Client.Reply r = call.get(10, TimeUnit.SECONDS);
                assertThat(r.header(":status")).isEqualTo("200");
                assertThat(r.trailer("grpc-status")).isEqualTo("0");
            }
            assertThat(a.connections.get()).isGreaterThanOrEqualTo(2);
            assertThat(gw.counter("meshgate.http2.upstream.retries", "listener", LISTENER, "cause", "goaway")).isGreaterThanOrEqualTo(4);
            assertThat(gw.counter("meshgate.http2.resets", "listener", LISTENER, "cause", "upstream")).isZero();
            assertThat(gw.counter("meshgate.http2.goaways", "listener", LISTENER, "direction", "received")).isEqualTo(1);
        }
    }

    @Test
    void shouldSendAStreamAnEndpointRefusedToTheNextEndpoint() throws Exception {
        try (H2Backend a = mtlsBackend("a"); H2Backend b = mtlsBackend("b"); RunningGateway gw = gateway("grpc", "mtls", "", a, b);
             H2Client client = client(gw)) {
            // a refuses every stream (RFC 9113 section 8.7: not processed, safe to send again): each
            // request the picker gives to a is sent again to b, the next candidate, and succeeds.
            a.refuse.set(1_000);
            List<CompletableFuture<H2Client.Reply>> calls = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                calls.add(client.call(H2Client.request("/echo").method("GET"), null));
            }
            for (CompletableFuture<H2Client.Reply> call : calls) {
                H2Client.Reply r = call.get(10, TimeUnit.SECONDS);
                assertThat(r.header(":status")).isEqualTo("200");
                assertThat(r.trailer("grpc-status")).isEqualTo("0");
                assertThat(r.header("x-endpoint")).isEqualTo("b");
            }
            assertThat(a.refused.get()).as("the picker gave a some of the six").isPositive();
            assertThat(gw.counter("meshgate.http2.upstream.retries", "listener", LISTENER, "cause", "refused_stream")).isEqualTo(a.refused.get());
            assertThat(gw.counter("meshgate.http2.upstream.retries", "listener", LISTENER, "cause", "goaway")).isZero();
            assertThat(gw.counter("meshgate.http2.resets", "listener", LISTENER, "cause", "upstream")).isZero();
        }
    }

    @Test
    void shouldAnswerUnavailableWhenEveryAttemptIsRefused() throws Exception {
        try (H2Backend a = mtlsBackend("a"); RunningGateway gw = gateway("grpc", "mtls", "", a); H2Client client = client(gw)) {
            a.refuse.set(1_000);
            H2Client.Reply r = client.call(H2Client.request("/echo").method("GET"), null).get(10, TimeUnit.SECONDS);
            assertThat(r.header(":status")).isEqualTo("200");
            assertThat(r.header("grpc-status")).isEqualTo("14");
            // Sent balancing.connectAttempts times in all (3 by default), then the endpoint's reset is the caller's.
            assertThat(a.refused.get()).isEqualTo(3);
            assertThat(gw.counter("meshgate.http2.upstream.retries", "listener", LISTENER, "cause", "refused_stream")).isEqualTo(2);
            assertThat(gw.counter("meshgate.http2.resets", "listener", LISTENER, "cause", "upstream")).isEqualTo(1);
            // Refusals are not remembered: once the endpoint takes streams again, so does the gateway.
            a.refuse.set(0);
            assertThat(client.call(H2Client.request("/echo").method("GET"), null).get(10, TimeUnit.SECONDS)
                    .trailer("grpc-status")).isEqualTo("0");
        }
    }

    @Test
    void shouldResetAStreamWhoseBodyWentOutBeforeTheEndpointsGoAway() throws Exception {
        try (H2Backend a = mtlsBackend("a"); RunningGateway gw = gateway("grpc", "mtls", "", a); H2Client client = client(gw)) {
            // Requests with a body cannot be sent again (the body is not kept): the caller hears UNAVAILABLE.
            a.goAwayAfter = 2;
            H2Client.Reply first = client.call("/echo").get(10, TimeUnit.SECONDS);
            H2Client.Reply second = client.call("/echo").get(10, TimeUnit.SECONDS);
            assertThat(first.trailer("grpc-status")).isEqualTo("0");
            assertThat(second.header(":status")).isEqualTo("200");
            assertThat(second.trailer("grpc-status")).isEqualTo("14");
            assertThat(gw.counter("meshgate.http2.upstream.retries", "listener", LISTENER, "cause", "goaway")).isZero();
            // The next call goes on a new connection.
            assertThat(client.call("/echo").get(10, TimeUnit.SECONDS).trailer("grpc-status")).isEqualTo("0");
        }
    }

    @Test
    void shouldCloseAConnectionWhoseClientShutItsOutputOnceItsStreamsAreAnswered() throws Exception {
        try (H2Backend a = mtlsBackend("a"); RunningGateway gw = gateway("grpc", "mtls", "", a); H2Client client = client(gw)) {
            CompletableFuture<H2Client.Reply> call = client.call(H2Client.request("/stream/5").method("GET"), null);
            await().atMost(Duration.ofSeconds(5)).until(() -> a.requests.size() == 1);
            // A FIN on an h2 connection (no half-closed connections in h2): the client can send nothing
            // more, not even WINDOW_UPDATE; the stream in flight is still answered, then the gateway
            // closes the connection instead of leaving it half-open until the idle timeout.
            ((io.netty.channel.socket.SocketChannel) client.channel()).shutdownOutput().sync();
            H2Client.Reply r = call.get(10, TimeUnit.SECONDS);
            assertThat(r.header(":status")).isEqualTo("200");
            assertThat(r.trailer("grpc-status")).isEqualTo("0");
            assertThat(r.body()).contains("a#4");
            await().atMost(Duration.ofSeconds(5)).until(() -> !client.isOpen());
            assertThat(client.goAways.get()).isEqualTo(1);
        }
    }

    @Test
    void shouldTurnAnUpstreamResetIntoUnavailable() throws Exception {
        try (H2Backend a = mtlsBackend("a"); RunningGateway gw = gateway("grpc", "mtls", "", a); H2Client client = client(gw)) {
            H2Client.Reply r = client.call("/reset").get(10, TimeUnit.SECONDS);
            assertThat(r.header(":status")).isEqualTo("200");
            assertThat(r.header("grpc-status")).isEqualTo("14");
            assertThat(gw.counter("meshgate.http2.resets", "listener", LISTENER, "cause", "upstream")).isEqualTo(1);
        }
    }

    @Test
    void shouldAnswerEveryOpenStreamOfAnEndpointConnectionThatDiesUnavailableOnce() throws Exception {
        H2Backend a = mtlsBackend("a");
        try (H2Backend b = mtlsBackend("b"); RunningGateway gw = gateway("grpc", "mtls", "", a, b); H2Client client = client(gw)) {
            List<CompletableFuture<H2Client.Reply>> calls = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                calls.add(client.call("/silent")); // round-robin: three on each endpoint's one connection
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> a.requests.size() == 3 && b.requests.size() == 3);
            a.close(); // the connection to a dies with its three streams open
            await().atMost(Duration.ofSeconds(10)).until(() -> calls.stream().filter(CompletableFuture::isDone).count() == 3);
            for (CompletableFuture<H2Client.Reply> call : calls.stream().filter(CompletableFuture::isDone).toList()) {
                H2Client.Reply r = call.get();
                assertThat(r.header(":status")).isEqualTo("200");
                assertThat(r.header("grpc-status")).isEqualTo("14");
            }
            assertThat(gw.counter("meshgate.http2.resets", "listener", LISTENER, "cause", "upstream")).isEqualTo(3);
            var streams = gw.gateway().metrics().registry().find("meshgate.http2.upstream.streams.active").tags("listener", LISTENER).gauge();
            assertThat(streams.value()).isEqualTo(3); // b's, still waiting for their answers
            // The caller's connection and the other endpoint keep serving.
            assertThat(client.call("/echo").get(10, TimeUnit.SECONDS).body()).isEqualTo("b");
        } finally {
            a.close();
        }
    }

    @Test
    void shouldAnswerDeadlineExceededAndCancelTheUpstreamWhenGrpcTimeoutExpires() throws Exception {
        try (H2Backend a = mtlsBackend("a"); RunningGateway gw = gateway("grpc", "mtls", "", a); H2Client client = client(gw)) {
            long start = System.nanoTime();
            H2Client.Reply r = client.call(H2Client.request("/silent").set("grpc-timeout", "300m"), null).get(10, TimeUnit.SECONDS);
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(250), Duration.ofSeconds(5));
            assertThat(r.header(":status")).isEqualTo("200");
            assertThat(r.header("grpc-status")).isEqualTo("4");
            await().atMost(Duration.ofSeconds(5)).until(() -> a.resetsReceived.get() == 1);
            // Once the endpoint has started answering, the deadline resets both streams.
            H2Client.Reply hung = client.call(H2Client.request("/hang").set("grpc-timeout", "300m"), null).get(10, TimeUnit.SECONDS);
            assertThat(hung.header(":status")).isEqualTo("200");
            assertThat(hung.reset()).isNotNull();
            await().atMost(Duration.ofSeconds(5)).until(() -> a.resetsReceived.get() == 2);
            assertThat(gw.counter("meshgate.http2.resets", "listener", LISTENER, "cause", "deadline")).isEqualTo(2);
        }
    }

    @Test
    void shouldPropagateAClientResetToTheEndpoint() throws Exception {
        try (H2Backend a = mtlsBackend("a"); RunningGateway gw = gateway("grpc", "mtls", "", a); H2Client client = client(gw)) {
            CompletableFuture<H2Client.Reply> call = client.call(H2Client.request("/hang"), null);
            await().atMost(Duration.ofSeconds(5)).until(() -> a.openStreams.get() == 1);
            // Reset from the client: find the stream channel and reset it.
            client.resetAll();
            await().atMost(Duration.ofSeconds(5)).until(() -> a.resetsReceived.get() == 1);
            await().atMost(Duration.ofSeconds(5)).until(() -> a.openStreams.get() == 0);
            assertThat(gw.counter("meshgate.http2.resets", "listener", LISTENER, "cause", "downstream")).isEqualTo(1);
            call.cancel(true);
        }
    }

    @Test
    void shouldBridgeH2CallersToAnHttp11ServiceNextToHttp11Callers() throws Exception {
        try (MeshBackend backend = new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(pki.backend, List.of(pki.clusterA.rootCert())));
             RunningGateway gw = gateways.start("http", "mtls", List.of(backend.endpoint()), "");
             H2Client h2 = client(gw);
             MtlsClient h1 = new MtlsClient(MeshPki.client(pki.callerB, pki.clusterA.rootCert()));
             MtlsClient.Session s = h1.connect(gw.address(), TlsPeers.SNI)) {
            H2Client.Reply r = h2.call(H2Client.request("/whoami").method("GET").set("x-forwarded-client-cert", "forged"), null)
                    .get(10, TimeUnit.SECONDS);
            assertThat(r.header(":status")).as(r.body()).isEqualTo("200");
            assertThat(r.body()).isEqualTo("ok");
            assertThat(s.send(MtlsClient.get("/whoami")).response().status()).isEqualTo(200);
            assertThat(backend.requests()).hasSize(2);
            assertThat(backend.requests()).allSatisfy(h -> {
                assertThat(h.getAll("x-forwarded-client-cert")).containsExactly(expectedXfcc());
                assertThat(h.get("host")).isEqualTo(TlsPeers.HOST);
                assertThat(h.names()).noneMatch(n -> n.startsWith("x-http2-"));
            });
        }
    }

    /** Discovery's view changes: the service now speaks {@code protocol} on {@code endpoint}. */
    static void serve(RunningGateway gw, AppProtocol protocol, String endpoint) {
        Router router = gw.gateway().router();
        for (RouteSource source : router.sources()) {
            if (source instanceof StaticRoutes) {
                router.removeSource(source);
            }
        }
        router.addSource(new StaticRoutes(List.of(new StaticRoutes.StaticService(TlsPeers.HOST, 8080,
                List.of(Endpoint.parse(endpoint)), protocol))));
    }

    @Test
    void shouldRefuseAStreamWhoseServiceTurnedHttpAndServeItOnTheCallersNextConnection() throws Exception {
        try (H2Backend a = mtlsBackend("a");
             MeshBackend web = new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(pki.backend, List.of(pki.clusterA.rootCert())));
             RunningGateway gw = gateway("grpc", "mtls", "", a); H2Client client = client(gw)) {
            assertThat(client.call("/echo").get(10, TimeUnit.SECONDS).body()).isEqualTo("a");
            serve(gw, AppProtocol.HTTP, web.endpoint());
            // This connection's stage relays h2 frames: the stream is refused untouched (clients retry those) and the
            // connection drained, rather than an HTTP/1.1 service being sent h2 or the caller an error.
            H2Client.Reply refused = client.call(H2Client.request("/whoami").method("GET"), null).get(10, TimeUnit.SECONDS);
            assertThat(refused.reset()).isEqualTo(Http2Error.REFUSED_STREAM.code());
            await().atMost(Duration.ofSeconds(5)).until(() -> client.goAways.get() >= 1);
            assertThat(a.requests).hasSize(1);
            assertThat(web.requests()).isEmpty();
            try (H2Client next = client(gw)) {
                H2Client.Reply r = next.call(H2Client.request("/whoami").method("GET"), null).get(10, TimeUnit.SECONDS);
                assertThat(r.header(":status")).as(r.body()).isEqualTo("200");
                assertThat(r.body()).isEqualTo("ok");
            }
            assertThat(web.requests()).hasSize(1);
            assertThat(gw.counter("meshgate.http.requests", "listener", LISTENER, "protocol", "h2", "status", "reset")).isEqualTo(1);
        }
    }

    @Test
    void shouldRefuseAStreamWhoseServiceTurnedGrpcOnAConnectionOfTheHttpBridge() throws Exception {
        try (H2Backend a = mtlsBackend("a");
             MeshBackend web = new MeshBackend(MeshBackend.App.HTTP, MeshPki.server(pki.backend, List.of(pki.clusterA.rootCert())));
             RunningGateway gw = gateways.start("http", "mtls", List.of(web.endpoint()), ""); H2Client client = client(gw)) {
            assertThat(client.call(H2Client.request("/whoami").method("GET"), null).get(10, TimeUnit.SECONDS).body()).isEqualTo("ok");
            serve(gw, AppProtocol.GRPC, a.endpoint());
            H2Client.Reply refused = client.call("/echo").get(10, TimeUnit.SECONDS);
            assertThat(refused.reset()).isEqualTo(Http2Error.REFUSED_STREAM.code());
            await().atMost(Duration.ofSeconds(5)).until(() -> client.goAways.get() >= 1);
            assertThat(a.requests).isEmpty();
            try (H2Client next = client(gw)) {
                assertThat(next.call("/echo").get(10, TimeUnit.SECONDS).body()).isEqualTo("a");
            }
            assertThat(web.requests()).hasSize(1);
        }
    }
}
