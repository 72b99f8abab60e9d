package io.meshgate.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The RBAC check would catch a role that grows past read-only discovery. */
class LeastPrivilegeTest {

    private static PolicyRule rule(String group, String resource, String... verbs) {
        return new PolicyRuleBuilder().withApiGroups(group).withResources(resource).withVerbs(verbs).build();
    }

    @Test
    void readingWhatDiscoveryAndItsExportRuleNeedIsAllowed() {
        List<PolicyRule> rules = List.of(
                rule("", "services", "get", "list", "watch"),
                rule("discovery.k8s.io", "endpointslices", "get", "list", "watch"),
                rule("", "namespaces", "get", "list", "watch"),
                rule("multicluster.x-k8s.io", "serviceexports", "get", "list", "watch"));

        assertThat(LeastPrivilege.violations(rules, LeastPrivilege.DISCOVERY)).isEmpty();
        assertThat(LeastPrivilege.readable(rules)).containsExactlyInAnyOrderElementsOf(LeastPrivilege.DISCOVERY);
    }

    @Test
    void writeVerbsWildcardsAndOtherResourcesAreFindings() {
        List<PolicyRule> rules = List.of(
                rule("", "services", "get", "list", "watch", "patch"),
                rule("", "pods", "get"),
                rule("", "endpoints", "list"),
                rule("*", "*", "*"),
                new PolicyRuleBuilder().withNonResourceURLs("/metrics").withVerbs("get").build());

        assertThat(LeastPrivilege.violations(rules, LeastPrivilege.DISCOVERY)).containsExactly(
                "rules[0]: verb 'patch' is not get/list/watch",
                "rules[1]: resource '/pods' is not one of " + LeastPrivilege.DISCOVERY,
                "rules[2]: resource '/endpoints' is not one of " + LeastPrivilege.DISCOVERY,
                "rules[3]: verb '*' is not get/list/watch",
                "rules[3]: resource '*/*' is not one of " + LeastPrivilege.DISCOVERY,
                "rules[4]: nonResourceURLs [/metrics]");
    }

    @Test
    void federationMayReadTheRootsWriteTheBundleAndCreateConfigMapsOnly() {
        List<PolicyRule> ok = List.of(
                new PolicyRuleBuilder().withApiGroups("").withResources("configmaps").withResourceNames("roots").withVerbs("get", "list", "watch").build(),
                new PolicyRuleBuilder().withApiGroups("").withResources("configmaps").withResourceNames("bundle").withVerbs("get", "update", "patch").build(),
                rule("", "configmaps", "create"));
        List<PolicyRule> tooMuch = List.of(
                new PolicyRuleBuilder().withApiGroups("").withResources("configmaps").withResourceNames("roots").withVerbs("update").build(),
                rule("", "configmaps", "create", "delete"),
                rule("", "secrets", "get"),
                new PolicyRuleBuilder().withApiGroups("").withResources("configmaps").withResourceNames("other").withVerbs("get").build());

        assertThat(LeastPrivilege.federationViolations(ok, "roots", "bundle")).isEmpty();
        assertThat(LeastPrivilege.federationViolations(tooMuch, "roots", "bundle")).containsExactly(
                "rules[0]: verb 'update' on [roots] is not one of " + LeastPrivilege.READ_VERBS,
                "rules[1]: verb 'delete' on any ConfigMap is not one of [create]",
                "rules[2]: only core configmaps, not [] [secrets]",
                "rules[2]: verb 'get' on any ConfigMap is not one of [create]",
                "rules[3]: resourceNames [other] are neither roots nor bundle");
    }

    @Test
    void secretsAreAFindingInTheClusterWideRole() {
        assertThat(LeastPrivilege.violations(List.of(rule("", "secrets", "get", "list", "watch")), LeastPrivilege.DISCOVERY))
                .containsExactly("rules[0]: resource '/secrets' is not one of " + LeastPrivilege.DISCOVERY);
    }
}
