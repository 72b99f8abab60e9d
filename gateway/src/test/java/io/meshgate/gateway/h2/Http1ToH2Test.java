package io.meshgate.gateway.h2;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.testing.H2Gateway;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.MtlsClient;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TlsPeers;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.ssl.SslContext;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * HTTP/1.1 callers (ALPN {@code http/1.1}, real mTLS sockets) of {@code grpc}/{@code http2}
 * services: each request of one keep-alive connection is balanced on its own over h2 endpoints
 * (mTLS with ALPN h2, and h2c), with XFCC, no connection-specific fields across, {@code te:
 * trailers} kept, the endpoint's trailers returned as chunked trailers, gRPC-shaped answers when
 * nothing can serve, and the requests counted under {@code protocol="http/1.1"}.
 */
class Http1ToH2Test {

    static final String LISTENER = H2Gateway.LISTENER;
    @RegisterExtension
    static final H2Gateway gateways = new H2Gateway();
    static final MeshPki pki = gateways.pki;

    /** A caller offering only ALPN http/1.1, with the sleep identity. */
    static SslContext http11Caller() throws Exception {
        return gateways.caller("http/1.1");
    }

    RunningGateway gateway(String protocol, String upstream, List<H2Backend> backends) throws Exception {
        return gatewayOn(protocol, upstream, backends.stream().map(H2Backend::endpoint).toList());
    }

    RunningGateway gateway(String protocol, String upstream, String endpoint) throws Exception {
        return gatewayOn(protocol, upstream, List.of(endpoint));
    }

    private RunningGateway gatewayOn(String protocol, String upstream, List<String> endpoints) throws Exception {
        return gateways.start(protocol, upstream, endpoints, "loadBalancing: {policy: round-robin}");
    }

    static String expectedXfcc() throws Exception {
        return gateways.expectedXfcc();
    }

    static String grpcPost(String path) {
        return "POST " + path + " HTTP/1.1\r\nHost: " + TlsPeers.HOST + "\r\nContent-Type: application/grpc\r\n"
                + "TE: trailers\r\nConnection: keep-alive, x-hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\n"
                + "Upgrade: h2c\r\nX-Forwarded-Client-Cert: forged\r\nContent-Length: 5\r\n\r\n\0\0\0\0\0";
    }

    @Test
    void shouldSendAgainTheRequestsAnEndpointsGoAwayLeftUnprocessed() throws Exception {
        H2Backend a = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()));
        // One worker: the three callers' requests share one pooled endpoint connection, which answers the
        // first, leaves the other two unanswered and then names the first as the last it processed.
        a.goAwayAfter = 3;
        try (RunningGateway gw = gateways.start("grpc", "mtls", List.of(a.endpoint()), "runtime: {workers: 1}");
             MtlsClient h1 = new MtlsClient(http11Caller())) {
            List<MtlsClient.Session> sessions = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                sessions.add(h1.connect(gw.address(), TlsPeers.SNI));
            }
            String get = "GET /echo HTTP/1.1\r\nHost: " + TlsPeers.HOST + "\r\nTE: trailers\r\n\r\n";
            sessions.forEach(s -> s.send(get));
            for (MtlsClient.Session s : sessions) {
                Chunked r = Chunked.read(s);
                assertThat(r.status).isEqualTo(200);
                assertThat(r.trailers).containsEntry("grpc-status", "0");
                s.close();
            }
            assertThat(a.connections.get()).isEqualTo(2);
            assertThat(gw.counter("meshgate.http2.upstream.retries", "listener", LISTENER, "cause", "goaway")).isEqualTo(2);
            assertThat(gw.counter("meshgate.http.requests", "listener", LISTENER, "protocol", "http/1.1", "status", "2xx"))
                    .isEqualTo(3);
        } finally {
            a.close();
        }
    }

    @Test
    void shouldSendARequestAnEndpointRefusedToTheNextEndpoint() throws Exception {
        H2Backend a = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()));
        H2Backend b = new H2Backend("b", pki.backend, List.of(pki.clusterA.rootCert()));
        a.refuse.set(1_000); // a resets every stream with REFUSED_STREAM: not processed, safe to send again
        try (RunningGateway gw = gateway("grpc", "mtls", List.of(a, b));
             MtlsClient h1 = new MtlsClient(http11Caller());
             MtlsClient.Session s = h1.connect(gw.address(), TlsPeers.SNI)) {
            String get = "GET /echo HTTP/1.1\r\nHost: " + TlsPeers.HOST + "\r\nTE: trailers\r\n\r\n";
            for (int i = 0; i < 4; i++) {
                Chunked r = Chunked.read(s.send(get));
                assertThat(r.status).isEqualTo(200);
                assertThat(r.body).isEqualTo("b");
                assertThat(r.trailers).containsEntry("grpc-status", "0");
            }
            assertThat(a.refused.get()).as("round-robin gave a half of them").isEqualTo(2);
            assertThat(gw.counter("meshgate.http2.upstream.retries", "listener", LISTENER, "cause", "refused_stream")).isEqualTo(2);
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void shouldBalanceEachRequestOfOneHttp11ConnectionOverH2EndpointsWithTrailers() throws Exception {
        List<H2Backend> backends = new ArrayList<>();
        for (String name : List.of("a", "b", "c")) {
            backends.add(new H2Backend(name, pki.backend, List.of(pki.clusterA.rootCert())));
        }
        try (RunningGateway gw = gateway("grpc", "mtls", backends);
             MtlsClient h1 = new MtlsClient(http11Caller());
             MtlsClient.Session s = h1.connect(gw.address(), TlsPeers.SNI)) {
            Map<String, Integer> seen = new HashMap<>();
            for (int i = 0; i < 6; i++) {
                Chunked r = Chunked.read(s.send(grpcPost("/echo")));
                assertThat(r.status).isEqualTo(200);
                assertThat(r.headers).containsEntry("transfer-encoding", "chunked").containsEntry("content-type", "application/grpc");
                assertThat(r.trailers).containsEntry("grpc-status", "0");
                seen.merge(r.body, 1, Integer::sum);
            }
            assertThat(seen).containsOnlyKeys("a", "b", "c").allSatisfy((k, v) -> assertThat(v).isEqualTo(2));
            for (H2Backend b : backends) {
                assertThat(b.connections.get()).isEqualTo(1);
                assertThat(b.requests).allSatisfy(h -> {
                    assertThat(h.getAll("x-forwarded-client-cert").stream().map(CharSequence::toString))
                            .containsExactly(expectedXfcc());
                    assertThat(h.authority().toString()).isEqualTo(TlsPeers.HOST);
                    assertThat(h.method().toString()).isEqualTo("POST");
                    assertThat(h.scheme().toString()).isEqualTo("https");
                    assertThat(h.get("te").toString()).isEqualTo("trailers");
                    assertThat(names(h)).doesNotContain("connection", "keep-alive", "upgrade", "x-hop", "host",
                            "transfer-encoding").noneMatch(n -> n.startsWith("x-http2-"));
                });
            }
            assertThat(gw.counter("meshgate.http.requests", "listener", LISTENER, "protocol", "http/1.1", "status", "2xx"))
                    .isEqualTo(6);
        } finally {
            backends.forEach(H2Backend::close);
        }
    }

    @Test
    void shouldCarryABodilessHttp11RequestToAnH2cEndpoint() throws Exception {
        try (H2Backend a = new H2Backend("a", null, List.of());
             RunningGateway gw = gateway("http2", "plaintext", List.of(a));
             MtlsClient h1 = new MtlsClient(http11Caller());
             MtlsClient.Session s = h1.connect(gw.address(), TlsPeers.SNI)) {
            Chunked r = Chunked.read(s.send(MtlsClient.get("/echo")));
            assertThat(r.status).isEqualTo(200);
            assertThat(r.body).isEqualTo("a");
            Chunked second = Chunked.read(s.send(MtlsClient.get("/stream/3")));
            assertThat(second.body.lines()).containsExactly("a#0", "a#1", "a#2");
            assertThat(a.requests).hasSize(2).allSatisfy(h -> assertThat(h.method().toString()).isEqualTo("GET"));
            assertThat(a.connections.get()).isEqualTo(1);
        }
    }

    @Test
    void shouldAnswerAnHttp11GrpcCallerUnavailableWhenNoEndpointAnswers() throws Exception {
        H2Backend gone = new H2Backend("gone", pki.backend, List.of(pki.clusterA.rootCert()));
        String endpoint = gone.endpoint();
        gone.close(); // its port now refuses connections
        try (RunningGateway gw = gateway("grpc", "mtls", endpoint);
             MtlsClient h1 = new MtlsClient(http11Caller())) {
            try (MtlsClient.Session s = h1.connect(gw.address(), TlsPeers.SNI)) {
                MtlsClient.HttpAnswer r = s.send(grpcPost("/echo")).response();
                assertThat(r.status()).isEqualTo(200);
                assertThat(r.headers()).containsEntry("grpc-status", "14").containsKey("grpc-message");
                assertThat(s.awaitClosed()).isTrue();
            }
            try (MtlsClient.Session s = h1.connect(gw.address(), TlsPeers.SNI)) {
                MtlsClient.HttpAnswer r = s.send(MtlsClient.get("/plain")).response();
                assertThat(r.status()).isEqualTo(502);
                assertThat(r.text()).contains(TlsPeers.HOST).doesNotContain(endpoint); // the service, never the endpoint
            }
            assertThat(gw.counter("meshgate.http.requests", "listener", LISTENER, "protocol", "http/1.1", "status", "2xx"))
                    .isEqualTo(1);
            assertThat(gw.counter("meshgate.http.requests", "listener", LISTENER, "protocol", "http/1.1", "status", "5xx"))
                    .isEqualTo(1);
        }
    }

    static List<String> names(Http2Headers h) {
        List<String> names = new ArrayList<>();
        h.forEach(e -> names.add(e.getKey().toString().toLowerCase(Locale.ROOT)));
        return names;
    }

    /** One HTTP/1.1 response read off the session: chunked (with trailers) or Content-Length. */
    record Chunked(int status, Map<String, String> headers, String body, Map<String, String> trailers) {

        static Chunked read(MtlsClient.Session s) throws Exception {
            Reader in = new Reader(s);
            String statusLine = in.line();
            Map<String, String> headers = in.fields();
            StringBuilder body = new StringBuilder();
            Map<String, String> trailers = Map.of();
            if ("chunked".equals(headers.get("transfer-encoding"))) {
                while (true) {
                    int size = Integer.parseInt(in.line().trim(), 16);
                    if (size == 0) {
                        trailers = in.fields();
                        break;
                    }
                    body.append(in.take(size));
                    in.line();
                }
            } else {
                body.append(in.take(Integer.parseInt(headers.getOrDefault("content-length", "0"))));
            }
            return new Chunked(Integer.parseInt(statusLine.split(" ")[1]), headers, body.toString(), trailers);
        }
    }

    private static final class Reader {
        private final MtlsClient.Session s;

        Reader(MtlsClient.Session s) {
            this.s = s;
        }

        String take(int n) throws Exception {
            return n == 0 ? "" : new String(s.read(n), StandardCharsets.ISO_8859_1);
        }

        String line() throws Exception {
            StringBuilder b = new StringBuilder();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (b.length() < 2 || b.charAt(b.length() - 2) != '\r' || b.charAt(b.length() - 1) != '\n') {
                assertThat(System.nanoTime()).as("response line within 10 s, got %s", b).isLessThan(deadline);
                b.append(take(1));
            }
            return b.substring(0, b.length() - 2);
        }

        Map<String, String> fields() throws Exception {
            Map<String, String> fields = new LinkedHashMap<>();
            for (String l = line(); !l.isEmpty(); l = line()) {
                int colon = l.indexOf(':');
                fields.put(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim());
            }
            return fields;
        }
    }
}
