package io.meshgate.gateway.discovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.meshgate.gateway.config.Defaults;
import io.meshgate.gateway.config.GatewaySpec.FederationSpec;
import io.meshgate.gateway.config.GatewaySpec.PublishSpec;
import io.meshgate.gateway.config.GatewaySpec.RootsSourceSpec;
import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.routing.kubernetes.MockApiServer;
import io.meshgate.tls.Fingerprint;
import io.meshgate.tls.Pem;
import io.meshgate.tls.pki.ClusterCa;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Trust federation through mock API servers: roots added, rotated with overlap, removed after the
 * grace period, garbage / non-CA / expired sources kept out (the last good roots stay), a cluster
 * leaving, and the published ConfigMap created, updated, left alone when unchanged or foreign.
 */
@Timeout(120)
class TrustFederationTest {

    static final String NS = "meshgate-system";
    static final Duration GRACE = Duration.ofSeconds(2);
    static ClusterCa b1;
    static ClusterCa b2;
    static ClusterCa c1;
    static ClusterCa expired;

    @BeforeAll
    static void pki() throws Exception {
        b1 = ClusterCa.create("cluster-b", "cluster.local", Instant.now());
        b2 = ClusterCa.create("cluster-b", "cluster.local", Instant.now());
        c1 = ClusterCa.create("cluster-c", "cluster.local", Instant.now());
        expired = ClusterCa.create("old", "cluster.local", Instant.now().minus(Duration.ofDays(3660)));
    }

    static FederationSpec spec(Duration grace) {
        return new FederationSpec(new RootsSourceSpec("ConfigMap", NS, "meshgate-root", "root-cert.pem"),
                new PublishSpec(NS, "meshgate-federated-bundle", "bundle.pem", false, Defaults.FEDERATION_SIGNER_NAME), grace);
    }

    static void publishRoots(MockApiServer api, String pem) {
        api.admin().configMaps().inNamespace(NS).resource(new ConfigMapBuilder().withNewMetadata().withNamespace(NS)
                .withName("meshgate-root").endMetadata().addToData("root-cert.pem", pem).build()).createOr(o -> o.update());
    }

    static String sha(ClusterCa ca) {
        return Fingerprint.sha256(ca.rootCert());
    }

    static List<String> trusted(TrustFederation f) {
        return f.roots().roots().stream().map(r -> r.source() + " " + r.root().sha256()).toList();
    }

    static String published(MockApiServer api) {
        ConfigMap cm = api.admin().configMaps().inNamespace(NS).withName("meshgate-federated-bundle").get();
        return cm == null || cm.getData() == null ? null : cm.getData().get("bundle.pem");
    }

    static double count(SimpleMeterRegistry registry, String name, String... tags) {
        Counter c = registry.find(name).tags(tags).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void rootsAreAddedRotatedWithOverlapAndRemovedAfterTheGrace() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (MockApiServer local = MockApiServer.start(); MockApiServer remote = MockApiServer.start();
             KubernetesClient localClient = local.newClient(); KubernetesClient remoteClient = remote.newClient();
             TrustFederation federation = new TrustFederation(spec(GRACE), Optional.empty(), registry)) {
            federation.publishTo(localClient);
            federation.attach("cluster-a", localClient);
            federation.attach("cluster-b", remoteClient);
            publishRoots(remote, Pem.encode(b1.rootCert()));
            await().atMost(Duration.ofSeconds(10)).until(() -> trusted(federation).equals(List.of("cluster:cluster-b " + sha(b1))));
            await().atMost(Duration.ofSeconds(10)).until(() -> Pem.encode(b1.rootCert()).equals(published(local)));
            assertThat(count(registry, "meshgate.trust.publish", "result", "created")).isEqualTo(1);
            assertThat(local.admin().configMaps().inNamespace(NS).withName("meshgate-federated-bundle").get()
                    .getMetadata().getLabels()).containsEntry(FederatedBundlePublisher.OWNED_LABEL, "true");

            // Rotation: the new root is published, the old one leaves the source; both are trusted during the grace.
            publishRoots(remote, Pem.encode(b2.rootCert()));
            await().atMost(Duration.ofSeconds(10)).until(() -> trusted(federation).size() == 2);
            assertThat(trusted(federation)).containsExactlyInAnyOrder("cluster:cluster-b " + sha(b1), "cluster:cluster-b " + sha(b2));
            await().atMost(Duration.ofSeconds(10)).until(() -> published(local) != null && published(local).contains(pem(b2))
                    && published(local).contains(pem(b1)));
            await().atMost(Duration.ofSeconds(10)).until(() -> trusted(federation).equals(List.of("cluster:cluster-b " + sha(b2))));
            await().atMost(Duration.ofSeconds(10)).until(() -> Pem.encode(b2.rootCert()).equals(published(local)));
            assertThat(count(registry, "meshgate.trust.publish", "result", "updated")).isEqualTo(2);

            // The local cluster publishes its roots too: the bundle is the union, ordered the same on every gateway.
            publishRoots(local, Pem.encode(c1.rootCert()));
            await().atMost(Duration.ofSeconds(10)).until(() -> published(local).contains(pem(c1)) && published(local).contains(pem(b2)));
        }
    }

    @Test
    void garbageNonCaAndExpiredSourcesAreKeptOutAndTheLastGoodRootsStay() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (MockApiServer local = MockApiServer.start(); MockApiServer remote = MockApiServer.start();
             KubernetesClient localClient = local.newClient(); KubernetesClient remoteClient = remote.newClient();
             TrustFederation federation = new TrustFederation(spec(Duration.ZERO), Optional.empty(), registry)) {
            federation.publishTo(localClient);
            federation.attach("cluster-b", remoteClient);
            publishRoots(remote, Pem.encode(b1.rootCert()));
            await().atMost(Duration.ofSeconds(10)).until(() -> trusted(federation).equals(List.of("cluster:cluster-b " + sha(b1))));

            publishRoots(remote, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    count(registry, "meshgate.trust.roots.rejected", "cluster", "cluster-b", "reason", "garbage") == 1);
            String leaf = Pem.encode(MeshPki.issue(b1, "spiffe://cluster.local/ns/default/sa/x").chain().get(0));
            publishRoots(remote, leaf);
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    count(registry, "meshgate.trust.roots.rejected", "cluster", "cluster-b", "reason", "not_ca") == 1);
            publishRoots(remote, Pem.encode(b1.caCert()));
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    count(registry, "meshgate.trust.roots.rejected", "cluster", "cluster-b", "reason", "not_root") == 1);
            publishRoots(remote, Pem.encode(expired.rootCert()));
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    count(registry, "meshgate.trust.roots.rejected", "cluster", "cluster-b", "reason", "expired") == 1);
            publishRoots(remote, "");
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    count(registry, "meshgate.trust.roots.rejected", "cluster", "cluster-b", "reason", "garbage") == 2);
            assertThat(trusted(federation)).as("last good roots kept, even with removalGrace 0s")
                    .containsExactly("cluster:cluster-b " + sha(b1));
            assertThat(published(local)).isEqualTo(Pem.encode(b1.rootCert()));

            // A good root next to a bad entry: the good one is taken, the bad one counted.
            publishRoots(remote, Pem.encode(b2.rootCert()) + leaf);
            await().atMost(Duration.ofSeconds(10)).until(() -> trusted(federation).equals(List.of("cluster:cluster-b " + sha(b2))));
            assertThat(count(registry, "meshgate.trust.roots.rejected", "cluster", "cluster-b", "reason", "not_ca")).isEqualTo(2);
        }
    }

    @Test
    void aClusterThatLeavesTakesItsRootsAfterTheGraceAndAReplacedAttachmentDoesNot() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (MockApiServer local = MockApiServer.start(); MockApiServer remote = MockApiServer.start();
             KubernetesClient localClient = local.newClient(); KubernetesClient remoteClient = remote.newClient();
             KubernetesClient remoteClient2 = remote.newClient();
             TrustFederation federation = new TrustFederation(spec(GRACE), Optional.empty(), registry)) {
            federation.publishTo(localClient);
            publishRoots(remote, Pem.encode(b1.rootCert()));
            AutoCloseable first = federation.attach("cluster-b", remoteClient);
            await().atMost(Duration.ofSeconds(10)).until(() -> trusted(federation).size() == 1);

            // A changed remote Secret: the new cluster is opened before the old one is closed.
            AutoCloseable second = federation.attach("cluster-b", remoteClient2);
            first.close();
            Thread.sleep(GRACE.toMillis() + 1000);
            assertThat(trusted(federation)).containsExactly("cluster:cluster-b " + sha(b1));

            second.close(); // the Secret is deleted
            assertThat(trusted(federation)).as("still trusted during the grace").hasSize(1);
            await().atMost(Duration.ofSeconds(10)).until(() -> trusted(federation).isEmpty());
            // The published bundle keeps its last content rather than an empty bundle (never written empty).
            assertThat(published(local)).isEqualTo(Pem.encode(b1.rootCert()));
        }
    }

    @Test
    void aForeignConfigMapIsNeverOverwrittenAndAnUnchangedBundleIsNotRewritten() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (MockApiServer local = MockApiServer.start(); MockApiServer remote = MockApiServer.start();
             KubernetesClient localClient = local.newClient(); KubernetesClient remoteClient = remote.newClient()) {
            ConfigMap foreign = new ConfigMapBuilder().withNewMetadata().withNamespace(NS).withName("meshgate-federated-bundle")
                    .endMetadata().addToData("bundle.pem", "theirs").build();
            local.admin().configMaps().inNamespace(NS).resource(foreign).create();
            try (TrustFederation federation = new TrustFederation(spec(GRACE), Optional.empty(), registry)) {
                federation.publishTo(localClient);
                federation.attach("cluster-b", remoteClient);
                publishRoots(remote, Pem.encode(b1.rootCert()));
                await().atMost(Duration.ofSeconds(10)).until(() -> count(registry, "meshgate.trust.publish", "result", "conflict") >= 1);
                assertThat(published(local)).isEqualTo("theirs");
            }
            // Once the foreign object is gone, meshgate creates its own; the same roots again write nothing.
            local.admin().configMaps().inNamespace(NS).withName("meshgate-federated-bundle").delete();
            try (TrustFederation federation = new TrustFederation(spec(GRACE), Optional.empty(), registry)) {
                federation.publishTo(localClient);
                federation.attach("cluster-b", remoteClient);
                await().atMost(Duration.ofSeconds(10)).until(() -> Pem.encode(b1.rootCert()).equals(published(local)));
                String version = local.admin().configMaps().inNamespace(NS).withName("meshgate-federated-bundle").get()
                        .getMetadata().getResourceVersion();
                publishRoots(remote, Pem.encode(b1.rootCert()) + "\n");
                Thread.sleep(1000);
                assertThat(local.admin().configMaps().inNamespace(NS).withName("meshgate-federated-bundle").get()
                        .getMetadata().getResourceVersion()).isEqualTo(version);
            }
            // A second gateway (another replica) finds meshgate's ConfigMap current: no write.
            try (TrustFederation replica = new TrustFederation(spec(GRACE), Optional.empty(), registry)) {
                replica.publishTo(localClient);
                replica.attach("cluster-b", remoteClient);
                await().atMost(Duration.ofSeconds(10)).until(() -> count(registry, "meshgate.trust.publish", "result", "unchanged") >= 1);
            }
        }
    }

    static String pem(ClusterCa ca) {
        return Pem.encode(ca.rootCert()).trim();
    }

    @Test
    void clusterTrustBundlesAreWrittenPerClusterAndAFailedWriteIsRetried() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        FederationSpec on = new FederationSpec(spec(GRACE).rootsFrom(),
                new PublishSpec(NS, "meshgate-federated-bundle", "bundle.pem", true, Defaults.FEDERATION_SIGNER_NAME), GRACE);
        try (MockApiServer local = MockApiServer.start(); MockApiServer remote = MockApiServer.start();
             KubernetesClient localClient = local.newClient(); KubernetesClient remoteClient = remote.newClient();
             TrustFederation federation = new TrustFederation(on, Optional.empty(), registry)) {
            local.stopServing("/clustertrustbundles", 403); // no RBAC yet: the ConfigMap is written, the bundles are not
            federation.publishTo(localClient);
            federation.attach("cluster-b", remoteClient);
            publishRoots(remote, Pem.encode(b1.rootCert()));
            await().atMost(Duration.ofSeconds(10)).until(() -> Pem.encode(b1.rootCert()).equals(published(local)));
            await().atMost(Duration.ofSeconds(10)).until(() -> count(registry, "meshgate.trust.publish", "result", "failed") >= 1);

            // Granted: the retry (backoff 1 s, 2 s, ...) writes it without any further change of roots.
            local.serve("/clustertrustbundles");
            var bundles = local.admin().genericKubernetesResources(FederatedBundlePublisher.CLUSTER_TRUST_BUNDLE);
            await().atMost(Duration.ofSeconds(10)).until(() -> bundles.withName("meshgate.io:federation:cluster-b").get() != null);
            var written = bundles.withName("meshgate.io:federation:cluster-b").get();
            assertThat(written.getMetadata().getLabels()).containsEntry(FederatedBundlePublisher.OWNED_LABEL, "true");
            assertThat(written.getAdditionalProperties().get("spec")).isEqualTo(
                    java.util.Map.of("signerName", "meshgate.io/federation", "trustBundle", Pem.encode(b1.rootCert())));
        }
    }
}
