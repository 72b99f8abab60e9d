package io.meshgate.gateway.h2;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.config.GatewaySpec.BalancingPolicy;
import io.meshgate.gateway.listener.Connection;
import io.meshgate.gateway.listener.ListenerContext;
import io.meshgate.gateway.relay.CopyRelay;
import io.meshgate.gateway.testing.TestListeners;
import io.meshgate.gateway.testing.TlsPeers;
import io.meshgate.gateway.transport.Transport;
import io.meshgate.gateway.upstream.EndpointPicker;
import io.meshgate.gateway.upstream.Route;
import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.RouteSource;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2ChannelDuplexHandler;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.ResourceLeakDetector;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * The connection-level downstream relay ({@link StreamRelay}, {@link DownstreamStream}) between
 * four {@link EmbeddedChannel}s whose bytes are shuttled by hand: a caller (Netty's h2 client), the
 * gateway's downstream connection as {@link Http2Downstream} installs it, the gateway's pooled
 * upstream connection ({@link H2Upstream}) and an endpoint (Netty's h2 server). Frames reach the
 * stream that owns them in both directions; the caller's window comes back only as the upstream
 * stream takes the bytes, the endpoint's only as the caller's stream does; resets cross; a closing
 * connection cancels every upstream stream once; a stream the caller breaks is reset alone; a
 * stream whose service turned {@code http} is refused and the connection drained.
 */
class StreamRelayTest {

    static final Endpoint ENDPOINT = Endpoint.of("127.0.0.1", 9443);
    static final String XFCC = "By=spiffe://cluster.local/ns/mesh/sa/gateway";

    SimpleMeterRegistry registry;
    Router router;
    Http2Termination h2;
    EmbeddedChannel caller;
    EmbeddedChannel down;
    EmbeddedChannel upClient;
    EmbeddedChannel endpoint;
    Peer callerPeer;
    Peer endpointPeer;
    Http2FrameCodec downCodec;
    Http2FrameCodec upCodec;

    @BeforeEach
    void connect() {
        registry = new SimpleMeterRegistry();
        router = TestListeners.staticRouter(TlsPeers.HOST, 8080, AppProtocol.GRPC, ENDPOINT);
        ListenerContext listener = TestListeners.context("test", registry, router, Transport.nio(), new CopyRelay(), 1,
                Duration.ofSeconds(5));
        h2 = new Http2Termination(Http2Limits.defaults(Duration.ofSeconds(1)), registry, "test", null, true,
                Duration.ofSeconds(5), (c, xfcc) -> new ChannelInboundHandlerAdapter());

        // The gateway's downstream connection, as the handshake stage installs it.
        down = new EmbeddedChannel();
        down.pipeline().addLast("tls", new ChannelInboundHandlerAdapter());
        Connection connection = Connection.accept(listener, down);
        connection.serverName(TlsPeers.SNI);
        connection.route(Route.of(router.resolve(TlsPeers.SNI)));
        Http2Downstream.install(down.pipeline(), "tls", connection, h2, XFCC);
        downCodec = down.pipeline().get(Http2FrameCodec.class);
        assertThat(down.pipeline().names()).containsSubsequence(Http2Names.FLUSH, Http2Names.COALESCE, Http2Names.CODEC, Http2Names.GUARD, Http2Names.RELAY);

        // The pooled connection to the endpoint, put in the listener's pool for the downstream's event loop.
        upClient = new EmbeddedChannel();
        upCodec = h2.limits().clientCodec();
        H2Upstream up = new H2Upstream(upClient, ENDPOINT, upCodec, 100, h2.metrics(),
                new EndpointPicker(BalancingPolicy.ROUND_ROBIN), u -> { });
        upClient.pipeline().addLast(upCodec, up);
        Http2Names.widenConnectionWindow(upCodec, 1 << 20);
        h2.pool(listener).add(down.eventLoop(), ENDPOINT, TlsPeers.SNI, up);

        endpointPeer = new Peer();
        endpoint = new EmbeddedChannel(Http2FrameCodecBuilder.forServer().build(), endpointPeer);
        callerPeer = new Peer();
        caller = new EmbeddedChannel(Http2FrameCodecBuilder.forClient().build(), callerPeer);
        pump();
    }

    @AfterEach
    void close() {
        // The endpoint side first: what the gateway answers its open streams then is released with the downstream.
        for (EmbeddedChannel ch : List.of(endpoint, upClient, caller, down)) {
            disconnect(ch);
            ch.finishAndReleaseAll();
        }
    }

    /** The peer went away: the channel closes at once, without the codec's graceful GOAWAY. */
    static void disconnect(EmbeddedChannel ch) {
        ch.unsafe().close(ch.voidPromise());
        ch.runPendingTasks();
    }

    /** Moves bytes between caller and gateway, and gateway and endpoint, until nobody has anything more to say. */
    void pump() {
        boolean moved;
        do {
            moved = false;
            for (EmbeddedChannel ch : List.of(caller, down, upClient, endpoint)) {
                if (ch.isOpen()) {
                    ch.runPendingTasks(); // the flush consolidation's deferred flushes
                    ch.flushOutbound();
                }
            }
            moved |= shuttle(caller, down);
            moved |= shuttle(down, caller);
            moved |= shuttle(upClient, endpoint);
            moved |= shuttle(endpoint, upClient);
        } while (moved);
    }

    static boolean shuttle(EmbeddedChannel from, EmbeddedChannel to) {
        boolean moved = false;
        for (Object b; (b = from.readOutbound()) != null; moved = true) {
            if (to.isActive()) {
                to.writeInbound(b);
            } else {
                ReferenceCountUtil.release(b);
            }
        }
        return moved;
    }

    /** One end of a test connection: records what it reads by stream id; returns DATA window as it reads, unless told not to. */
    static final class Peer extends Http2ChannelDuplexHandler {
        final Map<Integer, List<String>> got = new HashMap<>();
        final Map<Integer, Http2FrameStream> streams = new HashMap<>();
        final List<Integer> goAways = new ArrayList<>();
        /** DATA bytes read per stream, and those whose window this peer has not returned yet. */
        final Map<Integer, Integer> received = new HashMap<>();
        final Map<Integer, Integer> unreturned = new HashMap<>();
        boolean returnWindow = true;
        /** Lean mode (allocation counting): records nothing, and as an endpoint answers every request with this many bytes. */
        int answerBytes = -1;
        ChannelHandlerContext ctx;

        @Override
        protected void handlerAdded0(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (answerBytes >= 0) {
                if (msg instanceof Http2HeadersFrame h && h.headers().method() != null) {
                    ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false).stream(h.stream()));
                    ctx.write(new DefaultHttp2DataFrame(ctx.alloc().buffer(answerBytes).writeZero(answerBytes), true).stream(h.stream()));
                } else if (msg instanceof Http2DataFrame d) {
                    ctx.write(new DefaultHttp2WindowUpdateFrame(d.initialFlowControlledBytes()).stream(d.stream()));
                }
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof Http2StreamFrame f && f.stream() != null) {
                int id = f.stream().id();
                streams.put(id, f.stream());
                List<String> frames = got.computeIfAbsent(id, k -> new ArrayList<>());
                if (f instanceof Http2HeadersFrame h) {
                    frames.add(h.headers().status() != null ? "status:" + h.headers().status()
                            : h.headers().method() != null ? "request xfcc:" + h.headers().get(StreamHeaders.XFCC)
                            : "trailers");
                } else if (f instanceof Http2DataFrame d) {
                    frames.add("data:" + d.content().readableBytes());
                    received.merge(id, d.content().readableBytes(), Integer::sum);
                    if (returnWindow) {
                        ctx.write(new DefaultHttp2WindowUpdateFrame(d.initialFlowControlledBytes()).stream(d.stream()));
                    } else {
                        unreturned.merge(id, d.initialFlowControlledBytes(), Integer::sum);
                    }
                } else if (f instanceof Http2ResetFrame r) {
                    frames.add("rst:" + Http2Error.valueOf(r.errorCode()));
                }
            } else if (msg instanceof Http2GoAwayFrame g) {
                goAways.add(g.lastStreamId());
            }
            ReferenceCountUtil.release(msg);
        }

        /** A peer that did not return window catches up on stream {@code id} and returns it as it reads from now on. */
        void catchUp(int id) {
            returnWindow = true;
            Integer bytes = unreturned.remove(id);
            if (bytes != null) {
                ctx.write(new DefaultHttp2WindowUpdateFrame(bytes).stream(streams.get(id)));
            }
            ctx.flush();
        }

        int received(int id) {
            return received.getOrDefault(id, 0);
        }

        Http2FrameStream open(Http2Headers headers, boolean endStream) {
            Http2FrameStream s = newStream();
            ctx.writeAndFlush(new DefaultHttp2HeadersFrame(headers, endStream).stream(s));
            if (answerBytes < 0) {
                streams.put(s.id(), s);
            }
            return s;
        }

        void send(int id, Http2StreamFrame frame) {
            ctx.writeAndFlush(frame.stream(streams.get(id)));
        }

        List<String> got(int id) {
            return got.getOrDefault(id, List.of());
        }
    }

    static Http2Headers request(boolean grpc) {
        Http2Headers h = new DefaultHttp2Headers().method("POST").scheme("https").authority(TlsPeers.HOST).path("/svc/Call")
                .set("x-forwarded-client-cert", "forged");
        if (grpc) {
            h.set("content-type", "application/grpc");
        }
        return h;
    }

    static DefaultHttp2DataFrame data(int bytes, boolean end) {
        return new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[bytes]), end);
    }

    double requests(String status) {
        Counter c = registry.find("meshgate.http.requests").tags("protocol", "h2", "status", status).counter();
        return c == null ? 0 : c.count();
    }

    double resets(String cause) {
        return registry.find("meshgate.http2.resets").tags("cause", cause).counter().count();
    }

    /** The id of the {@code n}-th stream the gateway opened to the endpoint (0-based). */
    int up(int n) {
        return endpointPeer.streams.keySet().stream().sorted().toList().get(n);
    }

    StreamRelay relay() {
        return down.pipeline().get(StreamRelay.class);
    }

    @Test
    void shouldHandEachStreamsFramesToItsOwnUpstreamStreamAndBack() {
        Http2FrameStream a = callerPeer.open(request(true), false);
        Http2FrameStream b = callerPeer.open(request(false), true);
        callerPeer.send(a.id(), data(10, true));
        pump();
        // Both on the one pooled connection, each with the gateway's XFCC in place of the forged one.
        assertThat(endpointPeer.got(up(0))).containsExactly("request xfcc:" + XFCC, "data:10");
        assertThat(endpointPeer.got(up(1))).containsExactly("request xfcc:" + XFCC);

        endpointPeer.send(up(1), new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("404"), true));
        endpointPeer.send(up(0), new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false));
        endpointPeer.send(up(0), data(5, false));
        endpointPeer.send(up(0), new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().set("grpc-status", "0"), true));
        pump();
        assertThat(callerPeer.got(a.id())).containsExactly("status:200", "data:5", "trailers");
        assertThat(callerPeer.got(b.id())).containsExactly("status:404");
        assertThat(requests("2xx")).isEqualTo(1);
        assertThat(requests("4xx")).isEqualTo(1);
        assertThat(relay().open()).isZero(); // both streams ended: nothing of them is left
        assertThat(h2.metrics().upstreamStreams().get()).isZero();
    }

    @Test
    void shouldReturnTheCallersWindowOnlyAsTheUpstreamStreamTakesTheBytes() {
        endpointPeer.returnWindow = false; // the endpoint reads nothing: its 64 KiB stream window closes
        Http2FrameStream a = callerPeer.open(request(true), false);
        pump();
        Http2Connection gw = downCodec.connection();
        callerPeer.send(a.id(), data(48 * 1024, false));
        pump();
        // The upstream stream took it all and can take more: the caller's window came back as it arrived.
        assertThat(gw.local().flowController().unconsumedBytes(gw.stream(a.id()))).isZero();
        callerPeer.send(a.id(), data(48 * 1024, false));
        pump();
        // Only what fit the endpoint's window (65535) went on; the rest waits in the gateway, and the caller's window stays shut.
        assertThat(endpointPeer.received(up(0))).isEqualTo(65535);
        assertThat(gw.local().flowController().unconsumedBytes(gw.stream(a.id()))).isEqualTo(48 * 1024);

        endpointPeer.catchUp(up(0));
        pump();
        assertThat(endpointPeer.received(up(0))).isEqualTo(96 * 1024);
        assertThat(gw.local().flowController().unconsumedBytes(gw.stream(a.id()))).isZero();
    }

    @Test
    void shouldStopTakingTheEndpointsDataWhileTheCallersStreamCannotTakeMore() {
        callerPeer.returnWindow = false; // the caller reads nothing: its 64 KiB stream window at the gateway closes
        Http2FrameStream a = callerPeer.open(request(true), true);
        pump();
        endpointPeer.send(up(0), new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false));
        for (int i = 0; i < 3; i++) {
            endpointPeer.send(up(0), data(32 * 1024, false));
        }
        pump();
        Http2Connection up = upCodec.connection();
        // The caller got what its window (65535) allows; the gateway holds the rest and owes the endpoint its window
        // for what it holds: at most one window, whatever the endpoint would send.
        assertThat(callerPeer.received(a.id())).isEqualTo(65535);
        int owed = up.local().flowController().unconsumedBytes(up.stream(up(0)));
        assertThat(owed).isPositive().isLessThanOrEqualTo(64 * 1024);

        callerPeer.catchUp(a.id());
        pump();
        assertThat(callerPeer.received(a.id())).isEqualTo(96 * 1024);
        assertThat(up.local().flowController().unconsumedBytes(up.stream(up(0)))).isZero();
    }

    @Test
    void shouldCarryResetsBothWaysAndCountEachStreamOnce() {
        Http2FrameStream a = callerPeer.open(request(true), false);
        Http2FrameStream b = callerPeer.open(request(true), true);
        pump();
        callerPeer.send(a.id(), new DefaultHttp2ResetFrame(Http2Error.CANCEL));
        endpointPeer.send(up(1), new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM));
        pump();
        assertThat(endpointPeer.got(up(0))).containsExactly("request xfcc:" + XFCC, "rst:CANCEL");
        // The endpoint reset b before answering: the caller gets gRPC's UNAVAILABLE.
        assertThat(callerPeer.got(b.id())).containsExactly("status:200");
        assertThat(resets("downstream")).isEqualTo(1);
        assertThat(resets("upstream")).isEqualTo(1);
        assertThat(requests("reset")).isEqualTo(1);
        assertThat(requests("2xx")).isEqualTo(1);
        assertThat(relay().open()).isZero();
        assertThat(h2.metrics().upstreamStreams().get()).isZero();
    }

    @Test
    void shouldCancelEveryUpstreamStreamOnceWhenTheCallersConnectionCloses() {
        callerPeer.open(request(true), false);
        callerPeer.open(request(true), true);
        pump();
        assertThat(h2.metrics().upstreamStreams().get()).isEqualTo(2);
        disconnect(down);
        pump();
        assertThat(endpointPeer.got(up(0))).containsExactly("request xfcc:" + XFCC, "rst:CANCEL");
        assertThat(endpointPeer.got(up(1))).containsExactly("request xfcc:" + XFCC, "rst:CANCEL");
        assertThat(h2.metrics().upstreamStreams().get()).isZero();
        assertThat(requests("reset")).isEqualTo(2);
        assertThat(relay()).isNull(); // removed with the closed channel's pipeline
    }

    @Test
    void shouldGiveBackTheConnectionWindowOfDataForAStreamItAnsweredAlready() {
        // The endpoint resets the stream before answering while the caller is still sending: the gateway answers and
        // ends the stream, and what the caller sent meanwhile must not shrink the connection's window for good.
        Http2FrameStream a = callerPeer.open(request(true), false);
        pump();
        endpointPeer.send(up(0), new DefaultHttp2ResetFrame(Http2Error.INTERNAL_ERROR));
        endpointPeer.ctx.flush();
        endpoint.flushOutbound();
        shuttle(endpoint, upClient); // the gateway answered; the caller has not seen it yet
        upClient.flushOutbound();
        down.runPendingTasks();
        callerPeer.send(a.id(), data(16 * 1024, false));
        callerPeer.send(a.id(), data(16 * 1024, true));
        pump();
        // (The caller, having ended its request, closed the stream at the answer and ignores the reset that follows it.)
        assertThat(callerPeer.got(a.id())).first().isEqualTo("status:200");
        assertThat(requests("2xx")).isEqualTo(1);
        Http2Connection gw = downCodec.connection();
        assertThat(gw.local().flowController().unconsumedBytes(gw.connectionStream())).isZero();
        assertThat(endpointPeer.got(up(0))).containsExactly("request xfcc:" + XFCC); // nothing more went to the endpoint
    }

    @Test
    void shouldResetAStreamTheCallerBreaksAndCancelItsUpstreamWhileTheConnectionServesOn() {
        Http2FrameStream broken = callerPeer.open(request(true).setInt("content-length", 5), false);
        pump();
        callerPeer.send(broken.id(), data(10, true)); // more than it announced: Netty finds a stream error
        pump();
        assertThat(callerPeer.got(broken.id())).containsExactly("rst:PROTOCOL_ERROR");
        assertThat(endpointPeer.got(up(0))).containsExactly("request xfcc:" + XFCC, "rst:CANCEL");
        assertThat(requests("reset")).isEqualTo(1);
        assertThat(relay().open()).isZero();

        Http2FrameStream next = callerPeer.open(request(true), true);
        pump();
        endpointPeer.send(up(1), new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200").set("grpc-status", "0"), true));
        pump();
        assertThat(callerPeer.got(next.id())).containsExactly("status:200");
    }

    @Test
    void shouldAnswerEveryStreamItselfWhenTheServiceHasNoRoute() {
        for (RouteSource s : router.sources()) {
            router.removeSource(s);
        }
        Http2FrameStream grpc = callerPeer.open(request(true), true);
        Http2FrameStream plain = callerPeer.open(request(false), false);
        pump();
        assertThat(callerPeer.got(grpc.id())).containsExactly("status:200");
        // The body goes out before the reset that ends the caller's unfinished request (a reset would drop it).
        assertThat(callerPeer.got(plain.id())).containsExactly("status:503", "data:" + callerPeer.received(plain.id()), "rst:NO_ERROR");
        assertThat(callerPeer.received(plain.id())).isGreaterThan(("no healthy endpoints for " + TlsPeers.SNI).length() - 1);
        assertThat(requests("2xx")).isEqualTo(1);
        assertThat(requests("5xx")).isEqualTo(1);
        assertThat(endpointPeer.got).isEmpty();
    }

    @Test
    void shouldRefuseStreamsOfAServiceThatTurnedHttpAndDrainTheConnection() {
        Http2FrameStream before = callerPeer.open(request(true), false);
        pump();
        for (RouteSource s : router.sources()) {
            router.removeSource(s);
        }
        router.addSource(new StaticRoutes(List.of(new StaticRoutes.StaticService(TlsPeers.HOST, 8080, List.of(ENDPOINT),
                AppProtocol.HTTP))));
        Http2FrameStream refused = callerPeer.open(request(true), true);
        Http2FrameStream again = callerPeer.open(request(true), true);
        pump();
        // Refused before anything was done (safe to retry), and the caller told to go elsewhere; once.
        assertThat(callerPeer.got(refused.id())).containsExactly("rst:REFUSED_STREAM");
        assertThat(callerPeer.got(again.id())).containsExactly("rst:REFUSED_STREAM");
        assertThat(callerPeer.goAways).containsExactly(Integer.MAX_VALUE);
        assertThat(requests("reset")).isEqualTo(2);
        // The stream already relayed keeps going.
        callerPeer.send(before.id(), data(3, true));
        pump();
        assertThat(endpointPeer.got(up(0))).containsExactly("request xfcc:" + XFCC, "data:3");
        assertThat(endpointPeer.got).containsOnlyKeys(up(0));
    }

    /**
     * Not a check: counts the bytes the JVM allocates per request through the whole rig (caller,
     * gateway downstream and upstream, endpoint: all on this thread), a GET answered with 1 KiB as in
     * the h2load benchmark, 8 streams in flight. Leak tracking is off meanwhile (PARANOID records a
     * stack trace on every buffer access). Run with {@code mvn -o -pl gateway -am
     * -Dtest='StreamRelayTest#shouldCount*' -Dsurefire.failIfNoSpecifiedTests=false
     * -Dsurefire.argLine=-Dmeshgate.alloc=true verify -DskipITs}; the figure is in the test's output file.
     */
    @Test
    @EnabledIfSystemProperty(named = "meshgate.alloc", matches = "true")
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void shouldCountTheBytesAllocatedPerRequest() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.DISABLED);
        try {
            countBytesPerRequest();
        } finally {
            ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        }
    }

    private void countBytesPerRequest() {
        callerPeer.answerBytes = 0; // lean: records nothing, returns window as it reads
        endpointPeer.answerBytes = 1024;
        long rig = bytesPerRequest(callerPeer, this::pump);
        // The same caller and endpoint talking directly: what the rig costs without the gateway.
        Peer directCaller = new Peer();
        Peer directEndpoint = new Peer();
        directCaller.answerBytes = 0;
        directEndpoint.answerBytes = 1024;
        EmbeddedChannel c = new EmbeddedChannel(Http2FrameCodecBuilder.forClient().build(), directCaller);
        EmbeddedChannel e = new EmbeddedChannel(Http2FrameCodecBuilder.forServer().build(), directEndpoint);
        try {
            long direct = bytesPerRequest(directCaller, () -> {
                boolean moved;
                do {
                    c.flushOutbound();
                    e.flushOutbound();
                    moved = shuttle(c, e) | shuttle(e, c);
                } while (moved);
            });
            System.out.println("ALLOC bytes per request: through the gateway " + rig + ", caller and endpoint alone " + direct
                    + ", the gateway's share " + (rig - direct));
        } finally {
            c.finishAndReleaseAll();
            e.finishAndReleaseAll();
        }
    }

    /** Bytes this thread allocates per GET answered with 1 KiB, 8 streams in flight (as h2load -m 8), after a warm-up. */
    private static long bytesPerRequest(Peer caller, Runnable pump) {
        Http2Headers get = new DefaultHttp2Headers().method("GET").scheme("https").authority(TlsPeers.HOST).path("/1k");
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        int batches = 12_500; // of 8: 100,000 requests
        long start = 0;
        for (int i = 0; i < 2 * batches; i++) {
            if (i == batches) {
                start = threads.getThreadAllocatedBytes(tid);
            }
            for (int s = 0; s < 8; s++) {
                caller.open(get, true);
            }
            pump.run();
        }
        return (threads.getThreadAllocatedBytes(tid) - start) / (batches * 8L);
    }
}
