package io.meshgate.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class PipelinedRequestsTest {

    private final EmbeddedChannel downstream = new EmbeddedChannel();
    private final PipelinedRequests pipelined = new PipelinedRequests();

    private static FullHttpRequest get(String uri) {
        return new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, uri);
    }

    @Test
    void shouldPassPartsWhileTheExchangeStillReadsItsRequest() {
        assertThat(pipelined.hold(downstream, new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/a"), false)).isFalse();
        assertThat(pipelined.isEmpty()).isTrue();
        assertThat(downstream.config().isAutoRead()).isTrue();
    }

    @Test
    void shouldHoldInArrivalOrderAndHandOnUntilAnExchangeIsFullAgain() {
        FullHttpRequest b = get("/b");
        FullHttpRequest c = get("/c");
        assertThat(pipelined.hold(downstream, b, true)).as("the exchange in flight has its whole request").isTrue();
        assertThat(downstream.config().isAutoRead()).as("reads pause while a request waits").isFalse();
        assertThat(pipelined.hold(downstream, c, false)).as("behind a waiting request even when the exchange could take it").isTrue();

        List<HttpObject> handed = new ArrayList<>();
        pipelined.resume(handed::add, () -> handed.size() == 1); // /b fills the next exchange
        assertThat(handed).containsExactly(b);
        assertThat(pipelined.isEmpty()).isFalse();
        pipelined.resume(handed::add, () -> false);
        assertThat(handed).containsExactly(b, c);
        assertThat(pipelined.isEmpty()).isTrue();
        b.release();
        c.release();
    }

    @Test
    void shouldReleaseEveryHeldPartWhenTheConnectionEnds() {
        FullHttpRequest b = get("/b");
        LastHttpContent tail = new DefaultLastHttpContent(Unpooled.copiedBuffer(new byte[] {1, 2, 3}));
        pipelined.hold(downstream, b, true);
        pipelined.hold(downstream, tail, true);
        pipelined.release();
        assertThat(b.refCnt()).isZero();
        assertThat(tail.refCnt()).isZero();
        assertThat(pipelined.isEmpty()).isTrue();
    }
}
