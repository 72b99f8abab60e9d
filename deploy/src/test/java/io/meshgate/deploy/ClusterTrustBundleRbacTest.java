package io.meshgate.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code trust.federation.publish.clusterTrustBundle} is off by default and cluster-wide when on: the
 * default renderings grant nothing for ClusterTrustBundles (ManifestsTest: one ClusterRole, discovery
 * only), and the opt-ins (the Helm value, the Kustomize component) grant exactly what the publisher
 * does (get/list/create/update/delete, no watch) plus {@code attest} on meshgate's signer alone, bound
 * to meshgate's ServiceAccount only. That this is enough under a real authorizer is
 * RealClusterTrustBundleTest's job (e2e).
 */
class ClusterTrustBundleRbacTest {

    static final String ROLE = "meshgate-cluster-trust-bundles";
    static final List<PolicyRule> EXACTLY = List.of(
            new PolicyRuleBuilder().withApiGroups("certificates.k8s.io").withResources("clustertrustbundles")
                    .withVerbs("get", "list", "create", "update", "delete").build(),
            new PolicyRuleBuilder().withApiGroups("certificates.k8s.io").withResources("signers")
                    .withResourceNames("meshgate.io/federation").withVerbs("attest").build());

    @TempDir
    Path dir;

    @Test
    void theHelmValueSwitchesTheConfigAndGrantsExactlyThePublishersVerbs() {
        RenderedManifests m = RenderedManifests.parse("helm+clusterTrustBundle",
                HelmChart.template(null, Map.of("trustFederation.publish.clusterTrustBundle", "true")));
        assertGrantsExactly(m);
        assertThat(m.config().trust().federation().publish().clusterTrustBundle())
                .as("the chart's meshgate.yaml turns the publisher on with the RBAC").isTrue();
    }

    @Test
    void theHelmDefaultGrantsNothingForClusterTrustBundles() {
        RenderedManifests m = RenderedManifests.of("helm");
        assertThat(m.all(ClusterRole.class)).extracting(r -> r.getMetadata().getName()).doesNotContain(ROLE);
        assertThat(m.config().trust().federation().publish().clusterTrustBundle()).isFalse();
    }

    @Test
    void theKustomizeComponentAddsExactlyThatToTheBase() throws IOException {
        Path components = RenderedManifests.deployDir().resolve("components/cluster-trust-bundles");
        // Kustomize takes relative paths only: the base and the component as an overlay elsewhere would name them.
        Files.writeString(dir.resolve("kustomization.yaml"), """
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                resources: [%s]
                components: [%s]
                """.formatted(dir.relativize(RenderedManifests.deployDir().resolve("base")), dir.relativize(components)));
        RenderedManifests m = RenderedManifests.parse("base+component", Kustomize.render(dir));
        assertGrantsExactly(m);
        assertThat(RenderedManifests.of("base").all(ClusterRole.class)).extracting(r -> r.getMetadata().getName())
                .doesNotContain(ROLE);
    }

    private static void assertGrantsExactly(RenderedManifests m) {
        ClusterRole role = m.all(ClusterRole.class).stream().filter(r -> r.getMetadata().getName().equals(ROLE))
                .findFirst().orElseThrow(() -> new AssertionError(m.name() + ": no ClusterRole " + ROLE));
        assertThat(role.getAggregationRule()).isNull();
        assertThat(role.getRules()).as("%s: ClusterRole %s", m.name(), ROLE).usingRecursiveFieldByFieldElementComparator()
                .containsExactlyInAnyOrderElementsOf(EXACTLY);
        ClusterRoleBinding binding = m.all(ClusterRoleBinding.class).stream()
                .filter(b -> b.getRoleRef().getName().equals(ROLE)).findFirst()
                .orElseThrow(() -> new AssertionError(m.name() + ": nothing binds " + ROLE));
        assertThat(binding.getRoleRef().getKind()).isEqualTo("ClusterRole");
        assertThat(binding.getSubjects()).extracting(Subject::getKind, Subject::getName, Subject::getNamespace)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("ServiceAccount", "meshgate", ManifestsTest.NAMESPACE));
    }
}
