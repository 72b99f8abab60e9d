package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshgate.tls.PeerRefusedException.Reason;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.testing.MemoryHandshake;
import io.meshgate.tls.testing.TestPki;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ReferenceCountUtil;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tls.allowedIdentities} in {@link PeerVerifier}: exact SPIFFE IDs and {@code *} prefixes,
 * checked after the trust domain, refused as {@code identity_not_allowed}; empty allows everyone
 * the trust-domain rule lets through.
 */
class PeerVerifierIdentityTest {

    static final Instant NOW = Instant.now();
    static final String SLEEP = "spiffe://cluster.local/ns/default/sa/sleep";
    static final String HTTPBIN = "spiffe://cluster.local/ns/default/sa/httpbin";
    static final String PAYMENTS = "spiffe://cluster.local/ns/payments/sa/api";
    static final String FOREIGN = "spiffe://other.example/ns/default/sa/sleep";

    static ClusterCa local;
    static ClusterCa other;
    static TrustBundle bundle;

    @BeforeAll
    static void pki() throws Exception {
        local = ClusterCa.create("cluster-a", "cluster.local", NOW);
        other = ClusterCa.create("cluster-f", "other.example", NOW);
        bundle = TrustBundle.of(null, List.of(local.rootCert(), other.rootCert()), NOW);
    }

    static X509Certificate[] chain(ClusterCa ca, String id) throws Exception {
        IssuedIdentity issued = ca.issue(SpiffeId.parse(id), List.of(), Duration.ofDays(1), NOW);
        return issued.chain().toArray(new X509Certificate[0]);
    }

    static PeerVerifier verifier(Set<String> trustDomains, String... identities) {
        return new PeerVerifier(() -> bundle, trustDomains, AllowedIdentities.of(List.of(identities)), PeerRole.CLIENT);
    }

    /** What the server of {@code material} says about a TLS 1.3 caller presenting {@code id}; empty: accepted. */
    static java.util.Optional<Reason> handshake(TlsMaterial material, String id) throws Exception {
        IssuedIdentity caller = local.issue(SpiffeId.parse(id), List.of(), Duration.ofDays(1), NOW);
        javax.net.ssl.SSLEngine server = material.serverContext().newEngine(ByteBufAllocator.DEFAULT);
        javax.net.ssl.SSLEngine client = LoopbackTls.client(caller.key(), caller.chain(), "TLSv1.3")
                .newEngine(ByteBufAllocator.DEFAULT, "outbound_.8080_._.echo.default.svc.cluster.local", 443);
        try {
            MemoryHandshake.Result result = MemoryHandshake.run(client, server);
            return result.serverFailure() == null ? java.util.Optional.empty() : PeerRefusedException.reasonOf(result.serverFailure());
        } finally {
            ReferenceCountUtil.release(server);
            ReferenceCountUtil.release(client);
        }
    }

    static PeerRefusedException refusal(PeerVerifier v, X509Certificate[] chain) {
        try {
            v.verify(chain);
        } catch (PeerRefusedException e) {
            return e;
        }
        throw new AssertionError("chain was accepted");
    }

    @Test
    void exactIdAcceptsOnlyThatCaller() throws Exception {
        PeerVerifier v = verifier(Set.of("cluster.local"), SLEEP);
        assertThat(v.verify(chain(local, SLEEP))).hasToString(SLEEP);
        PeerRefusedException refused = refusal(v, chain(local, HTTPBIN));
        assertThat(refused.reason()).isEqualTo(Reason.IDENTITY_NOT_ALLOWED);
        assertThat(refused.reason().label()).isEqualTo("identity_not_allowed");
        assertThat(refused.getMessage()).contains(HTTPBIN, "allowedIdentities", SLEEP);
        assertThat(refused.peerSubject()).isNotNull();
    }

    @Test
    void prefixAcceptsTheWholeNamespaceAndNothingElse() throws Exception {
        PeerVerifier v = verifier(Set.of("cluster.local"), "spiffe://cluster.local/ns/default/*");
        assertThat(v.verify(chain(local, SLEEP))).hasToString(SLEEP);
        assertThat(v.verify(chain(local, HTTPBIN))).hasToString(HTTPBIN);
        assertThat(refusal(v, chain(local, PAYMENTS)).reason()).isEqualTo(Reason.IDENTITY_NOT_ALLOWED);
        // A prefix is textual: ns/default-2 is not ns/default/.
        assertThat(refusal(v, chain(local, "spiffe://cluster.local/ns/default-2/sa/sleep")).reason())
                .isEqualTo(Reason.IDENTITY_NOT_ALLOWED);
    }

    @Test
    void severalEntriesMixExactAndPrefix() throws Exception {
        PeerVerifier v = verifier(Set.of(), PAYMENTS, "spiffe://other.example/*");
        assertThat(v.verify(chain(local, PAYMENTS))).hasToString(PAYMENTS);
        assertThat(v.verify(chain(other, FOREIGN))).hasToString(FOREIGN);
        assertThat(refusal(v, chain(local, SLEEP)).reason()).isEqualTo(Reason.IDENTITY_NOT_ALLOWED);
    }

    @Test
    void emptyListAcceptsWhatTheTrustDomainRuleLetsThrough() throws Exception {
        PeerVerifier v = verifier(Set.of("cluster.local"));
        assertThat(v.allowedIdentities().isEmpty()).isTrue();
        assertThat(v.verify(chain(local, SLEEP))).hasToString(SLEEP);
        assertThat(v.verify(chain(local, PAYMENTS))).hasToString(PAYMENTS);
        assertThat(refusal(v, chain(other, FOREIGN)).reason()).isEqualTo(Reason.TRUST_DOMAIN_NOT_ALLOWED);
    }

    @Test
    void trustDomainIsCheckedFirstAndChainProblemsBeforeBoth() throws Exception {
        PeerVerifier v = verifier(Set.of("cluster.local"), FOREIGN);
        assertThat(refusal(v, chain(other, FOREIGN)).reason()).isEqualTo(Reason.TRUST_DOMAIN_NOT_ALLOWED);
        ClusterCa rogue = ClusterCa.create("rogue", "cluster.local", NOW);
        assertThat(refusal(verifier(Set.of(), SLEEP), chain(rogue, SLEEP)).reason()).isEqualTo(Reason.UNTRUSTED_ROOT);
    }

    @Test
    void bothIdentityRefusalsAreAccessDenied() {
        assertThat(Reason.IDENTITY_NOT_ALLOWED.identityRefusal()).isTrue();
        assertThat(Reason.TRUST_DOMAIN_NOT_ALLOWED.identityRefusal()).isTrue();
        assertThat(Reason.IDENTITY_NOT_ALLOWED.verifyError()).isEqualTo(Reason.TRUST_DOMAIN_NOT_ALLOWED.verifyError());
        assertThat(Reason.UNTRUSTED_ROOT.identityRefusal()).isFalse();
        assertThat(Reason.NO_SPIFFE_ID.identityRefusal()).isFalse();
    }

    @Test
    void entriesAreValidated() {
        assertThat(AllowedIdentities.problem(SLEEP)).isNull();
        assertThat(AllowedIdentities.problem("spiffe://cluster.local/ns/default/*")).isNull();
        assertThat(AllowedIdentities.problem("spiffe://cluster.local/*")).isNull();
        assertThat(AllowedIdentities.problem("spiffe://cluster.local/ns/default/sa/sleep*")).isNull();
        assertThat(AllowedIdentities.problem("spiffe://cluster.local")).isNull();
        assertThat(AllowedIdentities.problem("cluster.local/ns/default/*")).contains("must start with spiffe://");
        assertThat(AllowedIdentities.problem("spiffe://cluster.local/*/sa/sleep")).contains("'*' is allowed only at the end");
        assertThat(AllowedIdentities.problem("spiffe://cluster.*")).contains("whole trust domain");
        assertThat(AllowedIdentities.problem("spiffe://*")).contains("whole trust domain");
        assertThat(AllowedIdentities.problem("spiffe://Cluster.local/ns/a")).contains("lowercase");
        assertThat(AllowedIdentities.problem("spiffe://cluster.local/ns//a")).contains("empty segment");
        assertThat(AllowedIdentities.problem("")).contains("empty");
        assertThatThrownBy(() -> AllowedIdentities.of(List.of(SLEEP, "sleep"))).hasMessageContaining("'sleep'");
        assertThat(AllowedIdentities.of(List.of())).isSameAs(AllowedIdentities.ANY);
        assertThat(AllowedIdentities.trustDomainOf("spiffe://cluster.local/ns/default/*")).isEqualTo("cluster.local");
        assertThat(AllowedIdentities.trustDomainOf("spiffe://cluster.local")).isEqualTo("cluster.local");
    }

    @Test
    void anIdentityPolicyAloneKeepsTheTls13AlertKeyAndSurvivesReload(@TempDir Path dir) throws Exception {
        IssuedIdentity gateway = local.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/eastwest"),
                List.of(), Duration.ofDays(1), NOW);
        TlsFiles files = new TlsFiles(TestPki.write(dir.resolve("gw.pem"), gateway.chain().toArray()),
                TestPki.write(dir.resolve("gw.key"), gateway.key()),
                TestPki.write(dir.resolve("bundle.pem"), local.rootCert()));
        try (TlsMaterialSource source = new TlsMaterialSource(files, Set.of(),
                AllowedIdentities.of(List.of("spiffe://cluster.local/ns/default/*")), new SimpleMeterRegistry())) {
            TlsMaterial first = source.current();
            assertThat(first.serverTrafficSecrets()).as("access_denied over TLS 1.3 needs the key-log watch").isNotNull();
            assertThat(handshake(first, SLEEP)).isEmpty();
            assertThat(handshake(first, PAYMENTS)).contains(Reason.IDENTITY_NOT_ALLOWED);

            // Certificate rotation: new serving chain and key, the same policy.
            IssuedIdentity rotated = local.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/eastwest"),
                    List.of(), Duration.ofDays(2), NOW);
            TestPki.write(dir.resolve("gw.pem"), rotated.chain().toArray());
            TestPki.write(dir.resolve("gw.key"), rotated.key());
            assertThat(source.reload()).isEqualTo(TlsMaterialSource.ReloadResult.OK);
            TlsMaterial second = source.current();
            assertThat(second).isNotSameAs(first);
            assertThat(second.serverTrafficSecrets()).isNotNull();
            assertThat(handshake(second, SLEEP)).isEmpty();
            assertThat(handshake(second, PAYMENTS)).contains(Reason.IDENTITY_NOT_ALLOWED);
        }
    }
}
