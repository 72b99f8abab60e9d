package io.meshgate.gateway.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.CopyRelay;
import io.meshgate.gateway.relay.IdleTimeout;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.gateway.testing.EmbeddedUpstream;
import io.meshgate.gateway.testing.TestListeners;
import io.meshgate.gateway.upstream.Route;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.EndpointSet;
import io.meshgate.routing.OutboundSni;
import io.meshgate.tls.testing.ClientHellos;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The connect stage driven through {@link EmbeddedChannel}s in the style of Netty's
 * {@code SniHandlerTest}: the downstream is embedded, and so is every upstream the real
 * {@code EndpointDialer} opens ({@link EmbeddedUpstream}, registered on the downstream's embedded
 * loop), so the order of events is exact.
 */
class UpstreamConnectorTest {

    private static final String HOST = "reviews.bookinfo.svc.cluster.local";
    private static final Endpoint A = Endpoint.of("10.0.0.1", 9081);
    private static final Endpoint B = Endpoint.of("10.0.0.2", 9082);

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private EmbeddedChannel downstream;
    private Connection connection;

    @AfterEach
    void release() {
        EmbeddedUpstream.reset();
        if (downstream != null) {
            downstream.finishAndReleaseAll();
        }
        registry.close();
    }

    /** A passthrough downstream past its route stage: the route has {@code A} and {@code B}, round-robin starts at {@code A}. */
    private void routed(int connectAttempts) {
        ListenerContext context = TestListeners.context("test", registry,
                TestListeners.staticRouter(HOST, 9080, AppProtocol.TCP, A, B), EmbeddedUpstream.TRANSPORT, new CopyRelay(), connectAttempts,
                Duration.ofSeconds(10));
        downstream = new EmbeddedChannel();
        EmbeddedUpstream.prepare(downstream.eventLoop());
        connection = Connection.accept(context, downstream);
        connection.serverName(OutboundSni.format(HOST, 9080));
        connection.route(Route.local(new EndpointSet(List.of(A, B), AppProtocol.TCP), "cluster-a"));
        // Off, so that no read of the embedded channel runs the loop's tasks (the dial) before a test says so.
        downstream.config().setAutoRead(false);
        downstream.pipeline().addLast(MeshgateHandlerNames.CONNECT,
                new UpstreamConnector(connection, new IdleTimeout(downstream, Duration.ofMinutes(1))));
    }

    /** Runs the loop's tasks (the dial attempts, the relay's start) until none is left. */
    private void runLoop() {
        for (int i = 0; i < 10; i++) {
            downstream.runPendingTasks();
        }
    }

    private static byte[] hello() {
        return ClientHellos.builder().serverName(OutboundSni.format(HOST, 9080)).build();
    }

    @Test
    void shouldForwardTheHelloAndThenTheFinWhenTheClientHalfClosesBeforeTheUpstreamConnects() {
        routed(1);
        byte[] hello = hello();
        // Through the pipeline, not writeInbound (which runs the loop's tasks): the dial is queued
        // as a loop task by the read's completion and the FIN arrives before it runs.
        downstream.pipeline().fireChannelRead(Unpooled.wrappedBuffer(hello)).fireChannelReadComplete();
        downstream.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertThat(EmbeddedUpstream.OPENED).as("nothing dialed yet").isEmpty();

        runLoop();

        assertThat(EmbeddedUpstream.OPENED).hasSize(1);
        EmbeddedUpstream up = EmbeddedUpstream.OPENED.get(0);
        assertThat(up.remote()).isEqualTo(A.socketAddress());
        assertThat(up.written()).as("the buffered hello, byte-identical").isEqualTo(hello);
        assertThat(up.isOutputShutdown()).as("the client's FIN passed on after the hello").isTrue();
        assertThat(connection.outcome()).isEqualTo(Outcome.ROUTED);
        assertThat(connection.upstreamEndpoint()).isEqualTo(A);
        assertThat(downstream.pipeline().get(MeshgateHandlerNames.CONNECT)).as("connect stage gone").isNull();
    }

    @Test
    void shouldKeepReadingForTheHelloAndStopAtTheFirstBytesThatArriveWhileItConnects() {
        routed(1);
        downstream.config().setAutoRead(true); // as the hello stage leaves it
        // The stage's own calls, without the head's read() that an embedded channel answers by running the dial.
        ChannelHandlerContext ctx = downstream.pipeline().context(MeshgateHandlerNames.CONNECT);
        UpstreamConnector connector = (UpstreamConnector) ctx.handler();
        byte[] hello = hello();
        connector.channelRead(ctx, Unpooled.wrappedBuffer(hello));
        connector.channelReadComplete(ctx);
        assertThat(downstream.config().isAutoRead()).as("nothing but the hello so far: reading stays on").isTrue();
        byte[] early = "early bytes".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        connector.channelRead(ctx, Unpooled.wrappedBuffer(early));
        connector.channelReadComplete(ctx);
        assertThat(downstream.config().isAutoRead()).as("more before the upstream is there: stop reading").isFalse();
        assertThat(EmbeddedUpstream.OPENED).as("nothing dialed yet").isEmpty();

        runLoop();

        EmbeddedUpstream up = EmbeddedUpstream.OPENED.get(0);
        byte[] both = new byte[hello.length + early.length];
        System.arraycopy(hello, 0, both, 0, hello.length);
        System.arraycopy(early, 0, both, hello.length, early.length);
        assertThat(up.written()).as("the hello, then the early bytes, in order").isEqualTo(both);
        assertThat(downstream.config().isAutoRead()).as("the relay reads again").isTrue();
        assertThat(connection.outcome()).isEqualTo(Outcome.ROUTED);
    }

    @Test
    void shouldDialTheNextEndpointWhenTheFirstRefuses() {
        routed(2);
        EmbeddedUpstream.REFUSING.add(A.port());
        byte[] hello = hello();
        downstream.writeInbound(Unpooled.wrappedBuffer(hello));

        runLoop();

        assertThat(connection.outcome()).isEqualTo(Outcome.ROUTED);
        assertThat(connection.upstreamEndpoint()).isEqualTo(B);
        EmbeddedUpstream connected = EmbeddedUpstream.OPENED.get(EmbeddedUpstream.OPENED.size() - 1);
        assertThat(connected.remote()).isEqualTo(B.socketAddress());
        assertThat(connected.written()).isEqualTo(hello);
        assertThat(registry.get("meshgate.upstream.connect.failures").counter().count()).isEqualTo(1.0);
        assertThat(downstream.isOpen()).isTrue();
    }

    @Test
    void shouldCloseAsUpstreamFailedWhenEveryAttemptIsRefused() {
        routed(2);
        EmbeddedUpstream.REFUSING.add(A.port());
        EmbeddedUpstream.REFUSING.add(B.port());
        downstream.writeInbound(Unpooled.wrappedBuffer(hello()));

        runLoop();

        assertThat(connection.outcome()).isEqualTo(Outcome.UPSTREAM_FAILED);
        assertThat(downstream.isOpen()).isFalse();
        assertThat(registry.get("meshgate.upstream.connect.failures").counter().count()).isEqualTo(2.0);
    }
}
