package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.testing.TestPki;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Membership of federated roots: added, rotated with overlap, removed after grace, garbage kept out, a cluster leaving. */
class FederatedRootsTest {

    static final Instant T0 = Instant.now();
    static final Duration GRACE = Duration.ofMinutes(10);
    static ClusterCa a;
    static ClusterCa aNext;
    static ClusterCa b;

    /** A clock the test moves. */
    static final class Manual extends Clock {
        Instant now = T0;

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @BeforeAll
    static void pki() throws Exception {
        a = ClusterCa.create("cluster-a", "cluster.local", T0);
        aNext = ClusterCa.create("cluster-a", "cluster.local", T0);
        b = ClusterCa.create("cluster-b", "cluster.local", T0);
    }

    static List<String> sources(FederatedRoots roots) {
        return roots.roots().stream().map(r -> r.source() + " " + r.root().sha256()).toList();
    }

    static String sha(ClusterCa ca) {
        return Fingerprint.sha256(ca.rootCert());
    }

    @Test
    void rootsAreAddedPerClusterAndUnitedWithTheFile() throws Exception {
        Manual clock = new Manual();
        FederatedRoots roots = new FederatedRoots(GRACE, clock);
        assertThat(roots.update("cluster-a", Pem.encode(a.rootCert())).accepted()).isTrue();
        assertThat(roots.update("cluster-b", Pem.encode(b.rootCert(), a.rootCert())).roots()).isEqualTo(2);
        assertThat(sources(roots)).containsExactly("cluster:cluster-a " + sha(a), "cluster:cluster-b " + sha(b),
                "cluster:cluster-b " + sha(a));
        TrustBundle file = TrustBundle.of(null, List.of(a.rootCert()), T0);
        assertThat(roots.union(file).roots()).extracting(TrustRoot::sha256).containsExactly(sha(a), sha(b));
    }

    @Test
    void rotationOverlapsThenTheOldRootGoesAfterTheGrace() {
        Manual clock = new Manual();
        FederatedRoots roots = new FederatedRoots(GRACE, clock);
        roots.update("cluster-a", Pem.encode(a.rootCert()));
        roots.update("cluster-a", Pem.encode(a.rootCert(), aNext.rootCert()));
        roots.update("cluster-a", Pem.encode(aNext.rootCert()));
        clock.now = T0.plus(GRACE).minusSeconds(1);
        assertThat(sources(roots)).containsExactlyInAnyOrder("cluster:cluster-a " + sha(a), "cluster:cluster-a " + sha(aNext));
        assertThat(roots.nextRetirement()).contains(T0.plus(GRACE));
        clock.now = T0.plus(GRACE);
        assertThat(sources(roots)).containsExactly("cluster:cluster-a " + sha(aNext));
    }

    @Test
    void aRootThatComesBackBeforeItsGraceEndsStays() {
        Manual clock = new Manual();
        FederatedRoots roots = new FederatedRoots(GRACE, clock);
        roots.update("cluster-a", Pem.encode(a.rootCert(), aNext.rootCert()));
        roots.update("cluster-a", Pem.encode(aNext.rootCert()));
        roots.update("cluster-a", Pem.encode(aNext.rootCert(), a.rootCert()));
        clock.now = T0.plus(GRACE.multipliedBy(2));
        assertThat(roots.roots()).hasSize(2).allSatisfy(r -> assertThat(r.retiringAt()).isNull());
    }

    @Test
    void garbageNonCaAndExpiredSourcesAreRefusedAndTheLastGoodRootsStay() {
        Manual clock = new Manual();
        FederatedRoots roots = new FederatedRoots(GRACE, clock);
        roots.update("cluster-a", Pem.encode(a.rootCert()));
        FederatedRoots.Update garbage = roots.update("cluster-a", "not a certificate at all");
        assertThat(garbage.accepted()).isFalse();
        assertThat(garbage.problem()).contains("no certificate");
        TestPki.Issued leaf = TestPki.root("loose").issue("spiffe://cluster.local/ns/a/sa/b");
        FederatedRoots.Update nonCa = roots.update("cluster-a", Pem.encode(leaf.leaf()));
        assertThat(nonCa.accepted()).isFalse();
        assertThat(nonCa.problem()).contains("not a CA certificate");
        TestPki.Ca old = TestPki.root("old", T0.minus(Duration.ofDays(10)), T0.minus(Duration.ofDays(1)));
        assertThat(roots.update("cluster-a", Pem.encode(old.cert())).problem()).contains("expired");
        clock.now = T0.plus(GRACE.multipliedBy(3));
        assertThat(sources(roots)).containsExactly("cluster:cluster-a " + sha(a));
        FederatedRoots.Update mixed = roots.update("cluster-a", Pem.encode(old.cert(), aNext.rootCert()));
        assertThat(mixed.accepted()).isTrue();
        assertThat(mixed.problem()).contains("skipped", "expired");
    }

    @Test
    void aClusterThatLeavesTakesItsRootsAfterTheGrace() {
        Manual clock = new Manual();
        FederatedRoots roots = new FederatedRoots(GRACE, clock);
        roots.update("cluster-a", Pem.encode(a.rootCert()));
        roots.update("cluster-b", Pem.encode(b.rootCert()));
        roots.clusterLeft("cluster-b");
        clock.now = T0.plus(GRACE).minusMillis(1);
        assertThat(sources(roots)).hasSize(2);
        clock.now = T0.plus(GRACE);
        assertThat(sources(roots)).containsExactly("cluster:cluster-a " + sha(a));
        FederatedRoots immediate = new FederatedRoots(Duration.ZERO, clock);
        immediate.update("cluster-b", Pem.encode(b.rootCert()));
        immediate.clusterLeft("cluster-b");
        assertThat(immediate.roots()).isEmpty();
    }
}
