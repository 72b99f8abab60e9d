package io.meshgate.gateway.h2;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** gRPC's wire rules as the gateway applies them: grpc-timeout units, grpc-message encoding, header hygiene. */
class GrpcAnswersTest {

    @Test
    void shouldReadEveryGrpcTimeoutUnitAndRefuseMalformedOnes() {
        assertThat(GrpcAnswers.timeoutNanos("2H")).isEqualTo(TimeUnit.HOURS.toNanos(2));
        assertThat(GrpcAnswers.timeoutNanos("3M")).isEqualTo(TimeUnit.MINUTES.toNanos(3));
        assertThat(GrpcAnswers.timeoutNanos("5S")).isEqualTo(TimeUnit.SECONDS.toNanos(5));
        assertThat(GrpcAnswers.timeoutNanos("250m")).isEqualTo(TimeUnit.MILLISECONDS.toNanos(250));
        assertThat(GrpcAnswers.timeoutNanos("7u")).isEqualTo(7_000);
        assertThat(GrpcAnswers.timeoutNanos("99999999n")).isEqualTo(99_999_999);
        assertThat(GrpcAnswers.timeoutNanos(null)).isEqualTo(-1);
        assertThat(GrpcAnswers.timeoutNanos("5")).isEqualTo(-1);
        assertThat(GrpcAnswers.timeoutNanos("5s")).isEqualTo(-1);
        assertThat(GrpcAnswers.timeoutNanos("123456789S")).isEqualTo(-1); // more than 8 digits
        assertThat(GrpcAnswers.timeoutNanos("-1S")).isEqualTo(-1);
    }

    @Test
    void shouldPercentEncodeGrpcMessages() {
        assertThat(GrpcAnswers.percentEncode("no endpoint: 100% down")).isEqualTo("no endpoint: 100%25 down");
        assertThat(GrpcAnswers.percentEncode("caf\u00e9\n")).isEqualTo("caf%C3%A9%0A");
        Http2Headers h = GrpcAnswers.grpc(GrpcAnswers.UNAVAILABLE, "gone");
        assertThat(h.status().toString()).isEqualTo("200");
        assertThat(h.get("grpc-status").toString()).isEqualTo("14");
        assertThat(h.get("content-type").toString()).isEqualTo("application/grpc");
    }

    @Test
    void shouldDropConnectionSpecificFieldsAndKeepTeTrailers() {
        Http2Headers h = new DefaultHttp2Headers().method("POST").path("/x").authority("svc")
                .add("connection", "keep-alive").add("keep-alive", "5").add("transfer-encoding", "chunked")
                .add("upgrade", "h2c").add("te", "trailers").add("x-forwarded-client-cert", "By=forged");
        StreamHeaders.toUpstream(h, "By=gateway");
        assertThat(h.contains("connection")).isFalse();
        assertThat(h.contains("keep-alive")).isFalse();
        assertThat(h.contains("transfer-encoding")).isFalse();
        assertThat(h.contains("upgrade")).isFalse();
        assertThat(h.get("te").toString()).isEqualTo("trailers");
        assertThat(h.getAll("x-forwarded-client-cert")).extracting(CharSequence::toString).containsExactly("By=gateway");
        assertThat(h.authority().toString()).isEqualTo("svc");
        Http2Headers gzip = new DefaultHttp2Headers().add("te", "gzip");
        StreamHeaders.toDownstream(gzip);
        assertThat(gzip.contains("te")).isFalse();
        assertThat(StreamHeaders.isGrpc(new DefaultHttp2Headers().add("content-type", "application/grpc+proto"))).isTrue();
        assertThat(StreamHeaders.isGrpc(new DefaultHttp2Headers().add("content-type", "application/json"))).isFalse();
    }
}
