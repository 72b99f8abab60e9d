package io.meshgate.gateway.h2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshgate.gateway.config.GatewaySpec.BalancingPolicy;
import io.meshgate.gateway.upstream.EndpointPicker;
import io.meshgate.routing.Endpoint;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2FrameStream;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2NoMoreStreamIdsException;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2Stream;
import io.netty.handler.codec.http2.Http2StreamFrame;
import io.netty.util.ReferenceCountUtil;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The pooled h2 connection's frame-level relay, driven through two {@link EmbeddedChannel}s (the
 * gateway's client codec with {@link H2Upstream}, and a Netty h2 server codec standing in for the
 * endpoint) whose bytes are shuttled by hand: frames reach the stream that owns them, DATA window
 * is owed while a stream does not read and returned when it reads again, a dying connection tells
 * each open stream once, and a stream the codec refuses fails before anything is sent.
 */
class H2UpstreamTest {

    static final Endpoint ENDPOINT = Endpoint.of("127.0.0.1", 9443);

    EmbeddedChannel client;
    EmbeddedChannel server;
    Http2FrameCodec clientCodec;
    H2Upstream up;
    Http2Metrics metrics;
    EndpointPicker picker;
    final List<H2Upstream> retired = new ArrayList<>();
    /** Frames the endpoint read, by stream id. */
    final Map<Integer, Http2FrameStream> serverStreams = new ConcurrentHashMap<>();
    final List<String> serverRead = new ArrayList<>();

    @BeforeEach
    void connect() {
        setUp(Integer.MAX_VALUE);
    }

    void setUp(int endpointMaxStreams) {
        metrics = new Http2Metrics(new SimpleMeterRegistry(), "test");
        picker = new EndpointPicker(BalancingPolicy.LEAST_CONNECTIONS);
        client = new EmbeddedChannel();
        clientCodec = Http2Limits.defaults(Duration.ofSeconds(1)).clientCodec();
        up = new H2Upstream(client, ENDPOINT, clientCodec, 100, metrics, picker, retired::add);
        client.pipeline().addLast(clientCodec, up);
        Http2Names.widenConnectionWindow(clientCodec, 1 << 20); // as the pool does: stream windows, not the connection's, bind
        server = new EmbeddedChannel(Http2FrameCodecBuilder.forServer()
                .initialSettings(Http2Settings.defaultSettings().maxConcurrentStreams(endpointMaxStreams)).build(),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        if (msg instanceof Http2StreamFrame f) {
                            serverStreams.put(f.stream().id(), f.stream());
                            serverRead.add(f.stream().id() + ":" + f.name());
                        }
                        ReferenceCountUtil.release(msg);
                    }
                });
        pump();
    }

    @AfterEach
    void close() {
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }

    /** Moves bytes both ways until neither side has anything more to say. */
    void pump() {
        boolean moved;
        do {
            moved = false;
            client.flushOutbound();
            server.flushOutbound();
            for (Object b; (b = client.readOutbound()) != null; moved = true) {
                server.writeInbound(b);
            }
            for (Object b; (b = server.readOutbound()) != null; moved = true) {
                client.writeInbound(b);
            }
        } while (moved);
    }

    static Http2Headers request() {
        return new DefaultHttp2Headers().method("POST").scheme("https").authority("svc").path("/x");
    }

    void answer(int streamId, Object frame) {
        Http2StreamFrame f = (Http2StreamFrame) frame;
        server.writeOutbound(f.stream(serverStreams.get(streamId)));
    }

    static final class Recorder implements UpstreamStream.Receiver {
        final List<String> got = new ArrayList<>();
        boolean pauseOnData;
        int resets;
        int closed;
        int readCompletes;

        @Override
        public void fromUpstream(UpstreamStream from, Http2StreamFrame frame) {
            got.add(frame instanceof Http2DataFrame d ? "data:" + d.content().readableBytes() : "headers");
            ReferenceCountUtil.release(frame);
            if (pauseOnData && frame instanceof Http2DataFrame) {
                from.reading(false);
            }
        }

        @Override
        public void upstreamReset(UpstreamStream from, long errorCode) {
            resets++;
        }

        @Override
        public void upstreamReadComplete() {
            readCompletes++;
        }

        @Override
        public void upstreamWritabilityChanged(UpstreamStream from) {
        }

        @Override
        public void upstreamClosed(UpstreamStream from) {
            closed++;
        }

        int unprocessed;

        @Override
        public void upstreamUnprocessed(UpstreamStream from) {
            unprocessed++;
        }
    }

    UpstreamStream open(Recorder r) throws Exception {
        UpstreamStream s = up.open(request(), false, r);
        s.flush();
        pump();
        return s;
    }

    @Test
    void shouldHandEachFrameToTheStreamThatOwnsIt() throws Exception {
        Recorder r1 = new Recorder();
        Recorder r2 = new Recorder();
        UpstreamStream s1 = open(r1);
        UpstreamStream s2 = open(r2);
        assertThat(serverRead).containsExactly(s1.id() + ":HEADERS", s2.id() + ":HEADERS");
        assertThat(metrics.upstreamStreams().get()).isEqualTo(2);
        assertThat(picker.activeConnections(ENDPOINT)).isEqualTo(2);

        answer(s2.id(), new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false));
        answer(s1.id(), new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[10]), false));
        answer(s2.id(), new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[3]), true));
        pump();
        assertThat(r1.got).containsExactly("data:10");
        assertThat(r2.got).containsExactly("headers", "data:3");
        assertThat(r1.readCompletes).isPositive();
        assertThat(r2.readCompletes).isPositive();

        // s2's request ends too: the stream closes and its slot is free again; s1 stays.
        s2.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[1]), true));
        s2.flush();
        pump();
        assertThat(r2.closed).isEqualTo(1);
        assertThat(metrics.upstreamStreams().get()).isEqualTo(1);
        assertThat(picker.activeConnections(ENDPOINT)).isEqualTo(1);
        assertThat(r1.closed).isZero();
    }

    @Test
    void shouldOweTheWindowOfAStreamThatDoesNotReadAndReturnItWhenItReadsAgain() throws Exception {
        Recorder stalled = new Recorder();
        stalled.pauseOnData = true;
        Recorder flowing = new Recorder();
        UpstreamStream s1 = open(stalled);
        UpstreamStream s2 = open(flowing);
        Http2Stream c1 = clientCodec.connection().stream(s1.id());
        Http2Stream c2 = clientCodec.connection().stream(s2.id());
        int window = clientCodec.connection().local().flowController().initialWindowSize();
        for (int i = 0; i < 3; i++) {
            answer(s1.id(), new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[window / 4]), false));
            answer(s2.id(), new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[window / 4]), false));
        }
        pump();
        var local = clientCodec.connection().local().flowController();
        assertThat(local.unconsumedBytes(c1)).isEqualTo(3 * (window / 4)); // owed: the endpoint's window stays shut
        assertThat(local.unconsumedBytes(c2)).isZero(); // consumed as it came: the neighbour flows
        var endpointView = server.pipeline().get(Http2FrameCodec.class).connection();
        assertThat(endpointView.remote().flowController().windowSize(endpointView.stream(s1.id()))).isEqualTo(window - 3 * (window / 4));
        // The neighbour's window was topped up as it went (Netty updates once half of it is consumed).
        assertThat(endpointView.remote().flowController().windowSize(endpointView.stream(s2.id()))).isGreaterThanOrEqualTo(window / 2);

        s1.reading(true); // the downstream drained
        pump();
        assertThat(local.unconsumedBytes(c1)).isZero();
        assertThat(endpointView.remote().flowController().windowSize(endpointView.stream(s1.id()))).isEqualTo(window);
    }

    @Test
    void shouldTellEveryOpenStreamOnceWhenTheConnectionDies() throws Exception {
        List<Recorder> recorders = List.of(new Recorder(), new Recorder(), new Recorder());
        for (Recorder r : recorders) {
            open(r);
        }
        assertThat(metrics.upstreamStreams().get()).isEqualTo(3);
        client.close();
        client.runPendingTasks();
        assertThat(recorders).allSatisfy(r -> {
            assertThat(r.closed).isEqualTo(1);
            assertThat(r.resets).isZero();
        });
        assertThat(metrics.upstreamStreams().get()).isZero();
        assertThat(picker.activeConnections(ENDPOINT)).isZero();
        assertThat(retired).contains(up);
        assertThat(up.hasCapacity()).isFalse();
    }

    @Test
    void shouldDetachAStreamTheEndpointResetsAndTellItOnce() throws Exception {
        Recorder r = new Recorder();
        UpstreamStream s = open(r);
        answer(s.id(), new DefaultHttp2ResetFrame(Http2Error.INTERNAL_ERROR));
        pump();
        assertThat(r.resets).isEqualTo(1);
        assertThat(r.closed).isZero(); // the close that follows the reset is not told again
        assertThat(metrics.upstreamStreams().get()).isZero();
        s.close(); // the exchange abandons it too: nothing more is written
        pump();
        assertThat(serverRead).containsExactly(s.id() + ":HEADERS");
    }

    @Test
    void shouldTellTheStreamsAboveAGoAwaysLastStreamIdThatTheEndpointLeftThemUnprocessed() throws Exception {
        Recorder served = new Recorder();
        Recorder headersOnly = new Recorder();
        Recorder withBody = new Recorder();
        UpstreamStream a = open(served);
        UpstreamStream b = open(headersOnly);
        UpstreamStream c = open(withBody);
        c.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[3]), false));
        c.flush();
        pump();
        Http2FrameCodec serverCodec = server.pipeline().get(Http2FrameCodec.class);
        serverCodec.goAway(server.pipeline().context(serverCodec), a.id(), Http2Error.NO_ERROR.code(), Unpooled.EMPTY_BUFFER,
                server.newPromise());
        pump();
        // b carried only its request headers: its exchange may send it again; c's body is gone: a reset.
        assertThat(headersOnly.unprocessed).isEqualTo(1);
        assertThat(headersOnly.resets + headersOnly.closed).isZero();
        assertThat(withBody.unprocessed).isZero();
        assertThat(withBody.resets).isEqualTo(1);
        assertThat(withBody.closed).isZero();
        assertThat(metrics.upstreamStreams().get()).isEqualTo(1); // a only
        assertThat(up.hasCapacity()).isFalse();
        assertThat(retired).contains(up);
        // a, at or below the last stream id, is still answered.
        answer(a.id(), new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), true));
        pump();
        assertThat(served.got).containsExactly("headers");
        assertThat(served.unprocessed + served.resets).isZero();
    }

    @Test
    void shouldTellAStreamTheEndpointRefusedBeforeAnythingButItsHeadersCrossedUnprocessed() throws Exception {
        Recorder headersOnly = new Recorder();
        Recorder withBody = new Recorder();
        Recorder answered = new Recorder();
        UpstreamStream a = open(headersOnly);
        UpstreamStream b = open(withBody);
        UpstreamStream c = open(answered);
        b.write(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[3]), false));
        b.flush();
        pump();
        answer(c.id(), new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false));
        pump();
        for (UpstreamStream s : List.of(a, b, c)) {
            answer(s.id(), new DefaultHttp2ResetFrame(Http2Error.REFUSED_STREAM));
        }
        pump();
        // RFC 9113 section 8.7: only a stream that carried nothing but the request's HEADERS and got
        // nothing back may be sent again, to another endpoint (refused()); the others are resets.
        assertThat(headersOnly.unprocessed).isEqualTo(1);
        assertThat(headersOnly.resets + headersOnly.closed).isZero();
        assertThat(a.refused()).isTrue();
        assertThat(withBody.unprocessed).isZero();
        assertThat(withBody.resets).isEqualTo(1);
        assertThat(answered.unprocessed).isZero();
        assertThat(answered.resets).isEqualTo(1);
        assertThat(b.refused() || c.refused()).isFalse();
        assertThat(metrics.upstreamStreams().get()).isZero();
        assertThat(up.hasCapacity()).as("a refused stream does not retire the connection").isTrue();
    }

    @Test
    void shouldResetAStreamItsExchangeAbandons() throws Exception {
        Recorder r = new Recorder();
        UpstreamStream s = open(r);
        s.close();
        pump();
        assertThat(serverRead).containsExactly(s.id() + ":HEADERS", s.id() + ":RST_STREAM");
        assertThat(metrics.upstreamStreams().get()).isZero();
        assertThat(r.closed).isZero(); // the exchange let go of it: it is not told
    }

    @Test
    void shouldRefuseAStreamOnceStreamIdsAreExhaustedAndRetireTheConnection() throws Exception {
        clientCodec.connection().local().createStream(Integer.MAX_VALUE, true); // the last client stream id
        assertThatThrownBy(() -> up.open(request(), true, new Recorder()))
                .isInstanceOf(H2Upstream.RefusedStreamException.class)
                .hasCauseInstanceOf(Http2NoMoreStreamIdsException.class);
        assertThat(metrics.upstreamStreams().get()).isZero();
        assertThat(picker.activeConnections(ENDPOINT)).isZero();
        assertThat(retired).contains(up);
        assertThat(up.hasCapacity()).isFalse();
    }

    @Test
    void shouldRefuseAStreamBeyondTheEndpointsLimitWithoutSendingIt() throws Exception {
        close();
        serverStreams.clear();
        serverRead.clear();
        retired.clear();
        setUp(1);
        Recorder first = new Recorder();
        UpstreamStream s = open(first);
        assertThat(up.hasCapacity()).isFalse(); // the pool would not ask; a direct open is refused by the codec
        assertThatThrownBy(() -> up.open(request(), true, new Recorder()))
                .isInstanceOf(H2Upstream.RefusedStreamException.class);
        up.flush();
        pump();
        assertThat(serverRead).containsExactly(s.id() + ":HEADERS");
        assertThat(metrics.upstreamStreams().get()).isEqualTo(1);
        assertThat(first.closed).isZero();
        assertThat(retired).isEmpty();
    }
}
