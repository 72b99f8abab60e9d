package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.PeerRefusedException.Reason;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.testing.TestPki;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Federated roots reach new handshakes without touching the files: a cluster's published root is
 * trusted, listed with its source and counted, and a root removed with no grace is refused again.
 */
@Timeout(60)
class FederatedTrustTest {

    @TempDir
    Path dir;

    @Test
    void publishedRootsAreTrustedShownAndCounted() throws Exception {
        Instant now = Instant.now();
        ClusterCa a = ClusterCa.create("cluster-a", "cluster.local", now);
        ClusterCa b = ClusterCa.create("cluster-b", "cluster.local", now);
        IssuedIdentity gw = a.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/eastwest"), List.of(), Duration.ofDays(1), now);
        TlsFiles files = new TlsFiles(TestPki.write(dir.resolve("chain.pem"), gw.chain().toArray()),
                TestPki.write(dir.resolve("key.pem"), gw.key()), TestPki.write(dir.resolve("bundle.pem"), a.rootCert()));
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (TlsMaterialSource source = new TlsMaterialSource(files, Set.of(), registry)) {
            FederatedRoots federation = new FederatedRoots(Duration.ZERO, Clock.systemUTC());
            source.federate(federation);
            IssuedIdentity sleep = b.issue(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/sleep"), List.of(), Duration.ofDays(1), now);
            try (LoopbackTls server = new LoopbackTls(() -> source.current().serverContext())) {
                assertThat(PeerRefusedException.reasonOf(server.handshake(LoopbackTls.client(sleep.key(), sleep.chain())).failure()))
                        .contains(Reason.UNTRUSTED_ROOT);

                federation.update("cluster-b", Pem.encode(b.rootCert()));
                source.rootsChanged();
                LoopbackTls.ServerSide ok = server.handshake(LoopbackTls.client(sleep.key(), sleep.chain()));
                assertThat(ok.ok()).as("%s", ok.failure()).isTrue();
                assertThat(source.trustView().roots()).extracting(TrustView.Root::source).containsExactly("file", "cluster:cluster-b");
                assertThat(registry.get("meshgate.trust.roots").tag("source", "cluster:cluster-b").gauge().value()).isEqualTo(1);
                assertThat(registry.get("meshgate.trust.roots").tag("source", "file").gauge().value()).isEqualTo(1);
                assertThat((List<?>) source.spiffeBundle().get("keys")).hasSize(2);

                federation.clusterLeft("cluster-b");
                source.rootsChanged();
                assertThat(PeerRefusedException.reasonOf(server.handshake(LoopbackTls.client(sleep.key(), sleep.chain())).failure()))
                        .contains(Reason.UNTRUSTED_ROOT);
                assertThat(source.trustView().roots()).extracting(TrustView.Root::source).containsExactly("file");
            }
        }
    }
}
