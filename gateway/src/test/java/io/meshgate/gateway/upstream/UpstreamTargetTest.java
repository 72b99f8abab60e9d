package io.meshgate.gateway.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.config.GatewaySpec.BalancingPolicy;
import io.meshgate.gateway.metrics.ListenerMetrics;
import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.EndpointSet;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.RouteError;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultMessageSizeEstimator;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The route is resolved once into candidates with their clusters; the picker runs once and the
 * dialer walks exactly the order it chose, so an HTTP pool and the dialer cannot disagree.
 */
class UpstreamTargetTest {

    private static final Endpoint A = Endpoint.of("10.0.0.1", 8080);
    private static final Endpoint B = Endpoint.of("10.0.0.2", 8080);
    private static final Endpoint C = Endpoint.of("10.0.0.3", 8080);

    @Test
    void shouldWalkLocalEndpointsFromWhereThePickerStartedAndStopAtTheConnectAttempts() {
        Route route = Route.local(new EndpointSet(List.of(A, B, C), AppProtocol.HTTP), "cluster-a");
        EndpointPicker roundRobin = new EndpointPicker(BalancingPolicy.ROUND_ROBIN);
        roundRobin.first(route.endpoints()); // the next connection starts at the second endpoint

        UpstreamTarget target = route.pick(roundRobin, 2);

        assertThat(target.preferred()).isEqualTo(B);
        assertThat(List.of(target.endpoint(0), target.endpoint(1))).containsExactly(B, C);
        assertThat(target.attempts()).isEqualTo(2);
        assertThat(target.cluster(1)).isEqualTo("cluster-a");
        assertThat(route.protocol()).isEqualTo(AppProtocol.HTTP);
    }

    @Test
    void shouldTryEveryRemoteGatewayInTheRoutersOrderWithItsOwnCluster() {
        Route route = Route.of(new Resolution.ViaGateways(List.of(
                new Resolution.RemoteGateway("cluster-b", B, 3), new Resolution.RemoteGateway("cluster-c", C, 1))));

        UpstreamTarget target = route.pick(new EndpointPicker(BalancingPolicy.ROUND_ROBIN), 1);

        assertThat(target.attempts()).as("every gateway once, whatever connectAttempts says").isEqualTo(2);
        assertThat(List.of(target.endpoint(0), target.endpoint(1))).containsExactly(B, C);
        assertThat(List.of(target.cluster(0), target.cluster(1))).containsExactly("cluster-b", "cluster-c");
        assertThat(route.source()).isNull();
    }

    @Test
    void shouldHaveNoRouteForARefusal() {
        assertThat(Route.of(Resolution.refused(RouteError.BAD_SNI))).isNull();
    }

    @Test
    void shouldCountAFullPoolAsOverloadAndEverythingElseAsUpstreamFailed() {
        assertThat(UpstreamFailure.outcome(new UpstreamFailure.PoolExhausted(A, 4))).isEqualTo(Outcome.OVERLOAD);
        assertThat(UpstreamFailure.outcome(new java.net.ConnectException("refused"))).isEqualTo(Outcome.UPSTREAM_FAILED);
    }

    @io.netty.channel.ChannelHandler.Sharable
    private static final class Sharable extends ChannelInboundHandlerAdapter {}

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void shouldMoveOnToTheNextCandidateWhenTheFirstRefusesAndReportWhereItLanded() throws Exception {
        Transport transport = Transport.nio();
        EventLoopGroup group = transport.newGroup(1, "dialer-test");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        List<Socket> accepted = new ArrayList<>();
        try (ServerSocket closed = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             ServerSocket open = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Endpoint refusing = Endpoint.of("127.0.0.1", closed.getLocalPort());
            closed.close(); // nothing listens there any more: the connect is refused
            Endpoint listening = Endpoint.of("127.0.0.1", open.getLocalPort());
            ListenerMetrics metrics = new ListenerMetrics(registry, "test");
            EndpointPicker picker = new EndpointPicker(BalancingPolicy.ROUND_ROBIN);
            EndpointDialer dialer = new EndpointDialer(transport, picker, metrics, 2, Duration.ofSeconds(5));
            Route route = Route.of(new Resolution.ViaGateways(List.of(
                    new Resolution.RemoteGateway("cluster-b", refusing, 1), new Resolution.RemoteGateway("cluster-c", listening, 1))));

            open.setSoTimeout(10_000);
            Future<EndpointDialer.Dialed> f = dialer.dial(group.next(), dialer.pick(route),
                    new DefaultMessageSizeEstimator(0), new Sharable()).await();

            assertThat(f.isSuccess()).as("%s", f.cause()).isTrue();
            accepted.add(open.accept());
            assertThat(f.getNow().endpoint()).isEqualTo(listening);
            assertThat(f.getNow().cluster()).isEqualTo("cluster-c");
            assertThat(registry.get("meshgate.upstream.connect.failures").counter().count()).isEqualTo(1.0);
            f.getNow().channel().close().sync();
        } finally {
            for (Socket s : accepted) {
                s.close();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            registry.close();
        }
    }

    /**
     * {@code timeouts.connect}: an endpoint that never answers the SYN (a listener whose accept
     * queue is full: Linux drops the SYN) fails the attempt after the timeout, not before and not
     * much later, and the dial moves on to the next candidate; on epoll the timeout is the loop's
     * deadline sweep, elsewhere the loop's schedule.
     */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"epoll", "nio"})
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void shouldGiveUpOnAnEndpointThatDoesNotAnswerAfterTheConnectTimeout(String kind) throws Exception {
        Transport transport = kind.equals("epoll") ? Transport.epoll() : Transport.nio();
        EventLoopGroup group = transport.newGroup(1, "dialer-test");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        List<Socket> clients = new ArrayList<>();
        List<Socket> accepted = new ArrayList<>();
        try (ServerSocket full = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             ServerSocket open = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            boolean queueFull = false;
            for (int i = 0; i < 8 && !queueFull; i++) { // fill the accept queue (backlog 1): later SYNs are dropped
                Socket c = new Socket();
                clients.add(c);
                try {
                    c.connect(full.getLocalSocketAddress(), 200);
                } catch (java.net.SocketTimeoutException e) {
                    queueFull = true;
                }
            }
            assertThat(queueFull).as("the listener's accept queue is full").isTrue();
            Endpoint silent = Endpoint.of("127.0.0.1", full.getLocalPort());
            Endpoint listening = Endpoint.of("127.0.0.1", open.getLocalPort());
            ListenerMetrics metrics = new ListenerMetrics(registry, "test");
            EndpointDialer dialer = new EndpointDialer(transport, new EndpointPicker(BalancingPolicy.ROUND_ROBIN), metrics, 2,
                    Duration.ofMillis(400));
            long start = System.nanoTime();
            Future<EndpointDialer.Dialed> f = dialer.dial(group.next(), List.of(silent, listening), 2,
                    new DefaultMessageSizeEstimator(0), new Sharable()).await();
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);

            assertThat(f.isSuccess()).as("%s", f.cause()).isTrue();
            open.setSoTimeout(10_000);
            accepted.add(open.accept());
            assertThat(f.getNow().endpoint()).isEqualTo(listening);
            assertThat(millis).as("gave up on the silent endpoint after the timeout").isBetween(400L, 3_000L);
            assertThat(registry.get("meshgate.upstream.connect.failures").counter().count()).isEqualTo(1.0);
            f.getNow().channel().close().sync();

            Future<EndpointDialer.Dialed> alone = dialer.dial(group.next(), List.of(silent), 1,
                    new DefaultMessageSizeEstimator(0), new Sharable()).await();
            assertThat(alone.cause()).isInstanceOf(io.netty.channel.ConnectTimeoutException.class)
                    .hasMessageContaining("400 ms");
        } finally {
            for (Socket s : clients) {
                s.close();
            }
            for (Socket s : accepted) {
                s.close();
            }
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            registry.close();
        }
    }
}
