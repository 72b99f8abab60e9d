package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshgate.tls.PeerRefusedException.Reason;
import io.meshgate.tls.testing.TestPki;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** SPIFFE ID rules (SPIFFE ID specification) and reading the one ID of an X509-SVID. */
class SpiffeIdTest {

    @Test
    void parsesTrustDomainAndPath() {
        SpiffeId id = SpiffeId.parse("spiffe://cluster.local/ns/default/sa/sleep");
        assertThat(id.trustDomain()).isEqualTo("cluster.local");
        assertThat(id.path()).isEqualTo("/ns/default/sa/sleep");
        assertThat(id).hasToString("spiffe://cluster.local/ns/default/sa/sleep");
        assertThat(SpiffeId.parse("spiffe://td_1-x.example")).isEqualTo(SpiffeId.ofTrustDomain("td_1-x.example"));
        assertThat(SpiffeId.parse("spiffe://a/B.c-D_e/..x")).hasToString("spiffe://a/B.c-D_e/..x");
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "http://cluster.local/ns/a|must start with spiffe://",
        "SPIFFE://cluster.local/ns/a|must start with spiffe://",
        "spiffe://|trust domain is empty",
        "spiffe:///ns/a|trust domain is empty",
        "spiffe://Cluster.local/ns/a|lowercase",
        "spiffe://cluster.local:8443/ns/a|port",
        "spiffe://user@cluster.local/ns/a|userinfo",
        "spiffe://cluster.local/ns/a?x=1|query",
        "spiffe://cluster.local/ns/a#frag|fragment",
        "spiffe://cluster.local/ns//a|empty segment",
        "spiffe://cluster.local/ns/a/|must not end with /",
        "spiffe://cluster.local/ns/./a|'.' is not allowed",
        "spiffe://cluster.local/ns/../a|'..' is not allowed",
        "spiffe://cluster.local/ns/a b|contains ' '",
        "spiffe://cluster.local/ns/%41|contains '%'",
    })
    void refusesWithTheBrokenRule(String uri, String problem) {
        assertThatThrownBy(() -> SpiffeId.parse(uri)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(problem);
    }

    @Test
    void readsTheOneSpiffeUriOfALeaf() throws Exception {
        TestPki.Issued leaf = TestPki.root("a").issue("spiffe://cluster.local/ns/default/sa/sleep", "sleep.default.svc");
        assertThat(SpiffeId.of(leaf.leaf())).isEqualTo(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/sleep"));
    }

    @Test
    void leafWithoutOrWithSeveralOrBrokenSpiffeUrisIsRefused() {
        TestPki.Ca ca = TestPki.root("a");
        Instant from = Instant.now().minus(Duration.ofMinutes(1));
        Instant to = Instant.now().plus(Duration.ofDays(1));
        assertThatThrownBy(() -> SpiffeId.of(ca.issue(from, to, List.of(), "x.example").leaf()))
                .isInstanceOfSatisfying(PeerRefusedException.class, e -> assertThat(e.reason()).isEqualTo(Reason.NO_SPIFFE_ID));
        assertThatThrownBy(() -> SpiffeId.of(ca.issue(from, to, List.of("spiffe://a/x", "spiffe://a/y")).leaf()))
                .isInstanceOfSatisfying(PeerRefusedException.class,
                        e -> assertThat(e.reason()).isEqualTo(Reason.MULTIPLE_SPIFFE_IDS));
        assertThatThrownBy(() -> SpiffeId.of(ca.issue(from, to, List.of("spiffe://A/x")).leaf()))
                .isInstanceOfSatisfying(PeerRefusedException.class,
                        e -> assertThat(e.reason()).isEqualTo(Reason.MALFORMED_SPIFFE_ID));
    }

    @Test
    void otherUrisBesideTheSpiffeIdDoNotCount() throws Exception {
        TestPki.Issued leaf = TestPki.root("a").issue(Instant.now().minus(Duration.ofMinutes(1)), Instant.now().plus(Duration.ofDays(1)),
                List.of("https://example.com/x", "spiffe://cluster.local/ns/a/sa/b"));
        assertThat(SpiffeId.of(leaf.leaf())).hasToString("spiffe://cluster.local/ns/a/sa/b");
    }
}
