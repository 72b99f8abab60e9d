package io.meshgate.gateway.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.relay.CopyRelay;
import io.meshgate.gateway.relay.MeshgateHandlerNames;
import io.meshgate.gateway.testing.TestListeners;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Router;
import io.meshgate.tls.testing.ClientHellos;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The ClientHello and route stages driven through an {@link EmbeddedChannel} with real hello
 * bytes (Netty's SniHandlerTest style): what they pass on, what they refuse and with which
 * {@link Outcome}, without sockets.
 */
class HelloAndRouteStagesTest {

    private static final String HOST = "httpbin.default.svc.cluster.local";
    private static final Endpoint ENDPOINT = Endpoint.parse("127.0.0.1:18443");

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final List<Object> passedOn = new ArrayList<>();
    private EmbeddedChannel channel;
    private Connection connection;

    @AfterEach
    void release() {
        passedOn.forEach(io.netty.util.ReferenceCountUtil::release);
        if (channel != null) {
            channel.finishAndReleaseAll();
        }
        registry.close();
    }

    /** A passthrough downstream with only the two stages under test and a sink behind them. */
    private void start(Duration helloTimeout) {
        Router router = TestListeners.staticRouter(HOST, 8080, AppProtocol.TCP, ENDPOINT);
        ListenerContext context = TestListeners.context("test", registry, router, Transport.nio(), new CopyRelay(), 1, helloTimeout);
        channel = new EmbeddedChannel();
        connection = Connection.accept(context, channel);
        channel.pipeline()
                .addLast(MeshgateHandlerNames.CLIENT_HELLO, new ClientHelloHandler(connection))
                .addLast(MeshgateHandlerNames.ROUTE, RouteSelector.eastWest(connection))
                .addLast(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        passedOn.add(msg);
                    }
                });
    }

    private void start() {
        start(Duration.ofSeconds(10));
    }

    @Test
    void shouldPassTheWholeHelloOnOnceRoutedEvenWhenItArrivesInPieces() {
        start();
        byte[] hello = ClientHellos.builder().serverName(OutboundSni.format(HOST, 8080)).build();
        int a = hello.length / 3;
        channel.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(hello, 0, a)));
        channel.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(hello, a, 2 * a)));
        assertThat(passedOn).as("nothing before the hello is complete").isEmpty();
        channel.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOfRange(hello, 2 * a, hello.length)));

        assertThat(passedOn).hasSize(1);
        assertThat(ByteBufUtil.getBytes((ByteBuf) passedOn.get(0))).isEqualTo(hello);
        assertThat(connection.serverName()).isEqualTo(OutboundSni.format(HOST, 8080));
        assertThat(connection.route().endpoints()).containsExactly(ENDPOINT);
        assertThat(channel.pipeline().get(MeshgateHandlerNames.CLIENT_HELLO)).as("hello stage gone").isNull();
        assertThat(channel.pipeline().get(MeshgateHandlerNames.ROUTE)).as("route stage gone").isNull();
        assertThat(channel.config().isAutoRead()).as("reading stays on (the connect stage stops it if more comes)").isTrue();
        assertThat(channel.isOpen()).isTrue();
        assertThat(connection.outcome()).as("decided later, by the connect stage").isNull();
    }

    @Test
    void shouldRefuseAHelloWithoutServerNameAsNoSni() {
        start();
        channel.writeInbound(Unpooled.wrappedBuffer(ClientHellos.builder().noServerName().build()));
        assertRefused(Outcome.NO_SNI);
    }

    @Test
    void shouldRefuseBytesThatAreNoClientHelloAsBadHello() {
        start();
        channel.writeInbound(Unpooled.wrappedBuffer("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes()));
        assertRefused(Outcome.BAD_HELLO);
    }

    @Test
    void shouldRefuseEndOfStreamMidHelloAsBadHello() {
        start();
        byte[] hello = ClientHellos.meshHello();
        channel.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOf(hello, 20)));
        channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        assertRefused(Outcome.BAD_HELLO);
    }

    @Test
    void shouldRefuseAnUnknownServiceAsNoRouteAndForwardNothing() {
        start();
        channel.writeInbound(Unpooled.wrappedBuffer(
                ClientHellos.builder().serverName(OutboundSni.format("nothing.default.svc.cluster.local", 8080)).build()));
        assertRefused(Outcome.NO_ROUTE);
    }

    @Test
    void shouldRefuseANameThatIsNoRoutingNameAsNoRoute() {
        start();
        channel.writeInbound(Unpooled.wrappedBuffer(ClientHellos.builder().serverName(HOST).build()));
        assertRefused(Outcome.NO_ROUTE);
    }

    @Test
    void shouldTimeOutAHelloThatNeverCompletes() {
        start(Duration.ofMillis(100));
        channel.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOf(ClientHellos.meshHello(), 10)));
        channel.advanceTimeBy(50, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertThat(channel.isOpen()).as("still waiting at 50 ms").isTrue();
        channel.advanceTimeBy(60, TimeUnit.MILLISECONDS);
        channel.runScheduledPendingTasks();
        assertRefused(Outcome.TIMEOUT);
    }

    private void assertRefused(Outcome expected) {
        channel.runPendingTasks();
        assertThat(connection.outcome()).isEqualTo(expected);
        assertThat(channel.isOpen()).as("closed").isFalse();
        assertThat(passedOn).as("nothing forwarded").isEmpty();
        assertThat(registry.get("meshgate.downstream.connections").tag("outcome", expected.label()).counter().count())
                .as("counted once").isEqualTo(1.0);
    }
}
