package io.meshgate.gateway.accesslog;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.meshgate.routing.Endpoint;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/** One access log entry as one valid JSON line: fields, absent values, escaping. */
class AccessLogLineTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void shouldWriteEveryFieldOfARoutedConnectionOnOneLine() throws Exception {
        AccessLogEntry e = new AccessLogEntry(1_796_290_000_007L, "eastwest-mtls", new InetSocketAddress("10.0.0.9", 40112),
                "outbound_.8080_._.httpbin.default.svc.cluster.local", "cluster-a", Endpoint.parse("10.244.1.10:8080"),
                "spiffe://cluster.local/ns/default/sa/sleep", 1234, 5678, 12_345_678, "routed");
        String line = AccessLogLine.format(e);
        assertThat(line).endsWith("}\n").doesNotContain("\n{").hasLineCount(1);
        JsonNode json = JSON.readTree(line);
        assertThat(json.get("time").asText()).isEqualTo("2026-12-03T09:26:40.007Z");
        assertThat(json.get("listener").asText()).isEqualTo("eastwest-mtls");
        assertThat(json.get("peer").asText()).isEqualTo("10.0.0.9:40112");
        assertThat(json.get("sni").asText()).isEqualTo("outbound_.8080_._.httpbin.default.svc.cluster.local");
        assertThat(json.get("route").asText()).isEqualTo("httpbin.default.svc.cluster.local:8080");
        assertThat(json.get("cluster").asText()).isEqualTo("cluster-a");
        assertThat(json.get("endpoint").asText()).isEqualTo("10.244.1.10:8080");
        assertThat(json.get("peerIdentity").asText()).isEqualTo("spiffe://cluster.local/ns/default/sa/sleep");
        assertThat(json.get("bytesToUpstream").asLong()).isEqualTo(1234);
        assertThat(json.get("bytesToDownstream").asLong()).isEqualTo(5678);
        assertThat(json.get("durationMs").decimalValue()).isEqualByComparingTo("12.345");
        assertThat(json.get("outcome").asText()).isEqualTo("routed");
    }

    @Test
    void shouldLeaveOutWhatARefusedConnectionNeverHad() throws Exception {
        AccessLogEntry e = new AccessLogEntry(0, "eastwest", new InetSocketAddress("::1", 5), null, "", null, null,
                -1, 0, 999, "bad_hello");
        JsonNode json = JSON.readTree(AccessLogLine.format(e));
        assertThat(json.get("peer").asText()).isEqualTo("[0:0:0:0:0:0:0:1]:5");
        assertThat(json.has("sni")).isFalse();
        assertThat(json.has("route")).isFalse();
        assertThat(json.has("cluster")).isFalse();
        assertThat(json.has("endpoint")).isFalse();
        assertThat(json.has("peerIdentity")).isFalse();
        assertThat(json.has("bytesToUpstream")).isFalse();
        assertThat(json.get("bytesToDownstream").asLong()).isZero();
        assertThat(json.get("durationMs").decimalValue()).isEqualByComparingTo("0.000");
    }

    @Test
    void shouldEscapeWhatAClientPutInItsServerName() throws Exception {
        String sni = "evil\"}\n{\"outcome\":\"routed\\\u0001\ud800";
        AccessLogEntry e = new AccessLogEntry(0, "eastwest", null, sni, null, null, null, -1, 0, 0, "no_route");
        String line = AccessLogLine.format(e);
        assertThat(line).hasLineCount(1);
        JsonNode json = JSON.readTree(line);
        assertThat(json.get("sni").asText()).isEqualTo(sni);
        assertThat(json.get("outcome").asText()).isEqualTo("no_route");
        assertThat(json.has("route")).as("not a routing name").isFalse();
    }
}
