package io.meshgate.gateway.terminate;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.config.GatewaySpec.UpstreamTls;
import io.meshgate.gateway.h2.Http2Limits;
import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.CopyRelay;
import io.meshgate.gateway.testing.EmbeddedUpstream;
import io.meshgate.gateway.testing.TestListeners;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.OutboundSni;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The HTTP/1.1 proxy stage driven through {@link EmbeddedChannel}s in the style of Netty's
 * {@code SniHandlerTest}: the downstream is an embedded channel with the terminate pipeline's
 * HTTP codec and the handler under test; every upstream the real pool dials is an
 * {@link EmbeddedUpstream} with the pool's own client codec. Both sides are written as raw
 * HTTP/1.1 bytes, so what is asserted is what crosses the wire, in the order it crosses.
 */
class HttpProxyHandlerTest {

    private static final String HOST = "reviews.bookinfo.svc.cluster.local";
    private static final Endpoint A = Endpoint.of("10.0.0.1", 9081);
    private static final String XFCC = "By=spiffe://cluster.local/ns/mesh/sa/gw;URI=spiffe://cluster.local/ns/shop/sa/web";

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private EmbeddedChannel downstream;
    private Connection connection;
    private Termination termination;

    @AfterEach
    void release() {
        EmbeddedUpstream.reset();
        if (downstream != null) {
            downstream.finishAndReleaseAll();
        }
        registry.close();
    }

    /** A verified downstream past its handshake, for the HTTP service {@code HOST:9080} → {@code A}; pooled upstreams kept. */
    private void open() {
        ListenerContext context = TestListeners.context("test", registry,
                TestListeners.staticRouter(HOST, 9080, AppProtocol.HTTP, A), EmbeddedUpstream.TRANSPORT, new CopyRelay(), 1,
                Duration.ofSeconds(10));
        termination = new Termination("test", null, UpstreamTls.PLAINTEXT, Duration.ofSeconds(5), 4, registry,
                Http2Limits.defaults(Duration.ofSeconds(30)));
        downstream = new EmbeddedChannel();
        EmbeddedUpstream.prepare(downstream.eventLoop());
        connection = Connection.accept(context, downstream);
        connection.serverName(OutboundSni.format(HOST, 9080));
        downstream.pipeline().addLast(new HttpServerCodec(), new HttpProxyHandler(connection, XFCC, termination.pool()));
    }

    /** One read of the client's bytes, then the loop's tasks (the dial, its connect). */
    private void fromClient(String bytes) {
        downstream.writeInbound(ascii(bytes));
        runLoop();
    }

    /** One read of the endpoint's bytes on {@code up}. */
    private void fromEndpoint(EmbeddedUpstream up, String bytes) {
        up.writeInbound(ascii(bytes));
        runLoop();
    }

    private void runLoop() {
        for (int i = 0; i < 10; i++) {
            downstream.runPendingTasks();
        }
    }

    private static ByteBuf ascii(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    private static String toEndpoint(EmbeddedUpstream up) {
        return new String(up.written(), StandardCharsets.US_ASCII);
    }

    /** Everything the client has been sent so far. */
    private String toClient() {
        StringBuilder all = new StringBuilder();
        Object m;
        while ((m = downstream.readOutbound()) != null) {
            if (m instanceof ByteBuf b) {
                all.append(b.toString(StandardCharsets.US_ASCII));
            }
            ReferenceCountUtil.release(m);
        }
        return all.toString();
    }

    private EmbeddedUpstream onlyUpstream() {
        assertThat(EmbeddedUpstream.OPENED).hasSize(1);
        EmbeddedUpstream up = EmbeddedUpstream.OPENED.get(0);
        assertThat(up.remote()).isEqualTo(A.socketAddress());
        return up;
    }

    private double outcomes(Outcome o) {
        return registry.get("meshgate.downstream.connections").tag("outcome", o.label()).counter().count();
    }

    private double allOutcomes() {
        return registry.get("meshgate.downstream.connections").counters().stream().mapToDouble(c -> c.count()).sum();
    }

    @Test
    void shouldAnswerPipelinedRequestsInOrderOneExchangeAtATime() {
        open();
        fromClient("GET /a HTTP/1.1\r\nHost: reviews\r\n\r\n"
                + "GET /b HTTP/1.1\r\nHost: reviews\r\n\r\n"
                + "GET /c HTTP/1.1\r\nHost: reviews\r\n\r\n");

        EmbeddedUpstream up = onlyUpstream();
        String first = toEndpoint(up);
        assertThat(first).as("only the first request goes before its answer").startsWith("GET /a HTTP/1.1\r\n")
                .contains("x-forwarded-client-cert: " + XFCC).doesNotContain("GET /b");
        assertThat(downstream.config().isAutoRead()).as("the queued requests hold the client's reads").isFalse();

        fromEndpoint(up, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na");
        assertThat(toClient()).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na");
        assertThat(toEndpoint(up)).as("the next request, on the same pooled connection").startsWith("GET /b HTTP/1.1\r\n")
                .doesNotContain("GET /c");

        fromEndpoint(up, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb");
        assertThat(toClient()).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb");
        assertThat(toEndpoint(up)).startsWith("GET /c HTTP/1.1\r\n");

        fromEndpoint(up, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc");
        assertThat(toClient()).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc");
        assertThat(EmbeddedUpstream.OPENED).as("one upstream connection served all three").hasSize(1);
        assertThat(downstream.isOpen()).isTrue();
        assertThat(downstream.config().isAutoRead()).as("reading again once the queue is empty").isTrue();
        assertThat(termination.pool().idleConnections()).isEqualTo(1);
        assertThat(connection.outcome()).isEqualTo(Outcome.ROUTED);
    }

    @Test
    void shouldRelayOneHundredContinueBeforeTheBodyIsSentAndTheFinalResponseAfterIt() {
        open();
        fromClient("POST /upload HTTP/1.1\r\nHost: reviews\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        EmbeddedUpstream up = onlyUpstream();
        assertThat(toEndpoint(up)).startsWith("POST /upload HTTP/1.1\r\n").contains("Expect: 100-continue\r\n");

        fromEndpoint(up, "HTTP/1.1 100 Continue\r\n\r\n");
        assertThat(toClient()).isEqualTo("HTTP/1.1 100 Continue\r\n\r\n");

        fromClient("hello");
        assertThat(toEndpoint(up)).isEqualTo("hello");
        fromEndpoint(up, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
        assertThat(toClient()).isEqualTo("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
        assertThat(downstream.isOpen()).isTrue();
        assertThat(termination.pool().idleConnections()).as("in step: back in the pool").isEqualTo(1);
    }

    @Test
    void shouldRelayEarlyHintsBeforeTheFinalResponseAndStayInStepForTheNextRequest() {
        open();
        fromClient("GET /page HTTP/1.1\r\nHost: reviews\r\n\r\n");
        EmbeddedUpstream up = onlyUpstream();
        toEndpoint(up);

        fromEndpoint(up, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npage");
        assertThat(toClient()).isEqualTo("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npage");

        // The next exchange on both connections pairs with its own response.
        fromClient("HEAD /page HTTP/1.1\r\nHost: reviews\r\n\r\n");
        assertThat(toEndpoint(up)).startsWith("HEAD /page HTTP/1.1\r\n");
        fromEndpoint(up, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
        assertThat(toClient()).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
        assertThat(EmbeddedUpstream.OPENED).hasSize(1);
        assertThat(downstream.isOpen()).isTrue();
    }

    @Test
    void shouldRelayAnEarlyResponseThenCloseBothSidesAndDropTheRestOfTheBody() {
        open();
        fromClient("POST /upload HTTP/1.1\r\nHost: reviews\r\nContent-Length: 10\r\n\r\nhello");
        EmbeddedUpstream up = onlyUpstream();
        assertThat(toEndpoint(up)).endsWith("\r\n\r\nhello");

        fromEndpoint(up, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n");
        assertThat(toClient()).startsWith("HTTP/1.1 413 Payload Too Large\r\n");
        assertThat(up.isOpen()).as("out of step: not pooled").isFalse();
        assertThat(termination.pool().idleConnections()).isZero();
        assertThat(downstream.isOpen()).as("the unread rest of the body ends the connection").isFalse();

        assertThat(connection.outcome()).isEqualTo(Outcome.ROUTED);
        assertThat(allOutcomes()).isEqualTo(1.0);
    }

    @Test
    void shouldCloseTheClientConnectionWithoutAnAnswerWhenTheUpstreamClosesMidResponseBody() {
        open();
        fromClient("GET /big HTTP/1.1\r\nHost: reviews\r\n\r\n");
        EmbeddedUpstream up = onlyUpstream();
        toEndpoint(up);
        fromEndpoint(up, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        assertThat(toClient()).isEqualTo("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");

        up.close();
        runLoop();

        assertThat(toClient()).as("no second response inside the cut body").isEmpty();
        assertThat(downstream.isOpen()).as("the short body is visible to the client as a close").isFalse();
        assertThat(termination.pool().idleConnections()).isZero();
        assertThat(connection.outcome()).isEqualTo(Outcome.ROUTED);
        assertThat(outcomes(Outcome.ROUTED)).isEqualTo(1.0);
        assertThat(allOutcomes()).as("counted once").isEqualTo(1.0);
        assertThat(registry.get("meshgate.downstream.connections.active").gauge().value()).isZero();
    }

    @Test
    void shouldAnswerBadGatewayNamingTheServiceWhenTheUpstreamClosesMidRequestBody() {
        open();
        fromClient("POST /upload HTTP/1.1\r\nHost: reviews\r\nContent-Length: 10\r\n\r\nhello");
        EmbeddedUpstream up = onlyUpstream();
        toEndpoint(up);

        up.close();
        runLoop();

        String answer = toClient();
        assertThat(answer).startsWith("HTTP/1.1 502 Bad Gateway\r\n").contains("connection: close")
                .endsWith("meshgate: service " + HOST + ":9080 could not be reached\n")
                .doesNotContain("10.0.0.1");
        assertThat(downstream.isOpen()).isFalse();
        assertThat(toEndpoint(up)).as("nothing more went upstream").isEmpty();
        assertThat(connection.outcome()).as("counted when the upstream took the request").isEqualTo(Outcome.ROUTED);
        assertThat(allOutcomes()).isEqualTo(1.0);
    }
}
