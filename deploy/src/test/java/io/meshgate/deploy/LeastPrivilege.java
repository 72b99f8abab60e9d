package io.meshgate.deploy;

import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What meshgate may be granted: reading Services, EndpointSlices, Namespaces and ServiceExports
 * cluster-wide (discovery and its export rule), Secrets in its own namespace (remote clusters), and
 * for trust federation reading one ConfigMap and writing another. Anything more in a rendered role
 * is a finding.
 */
final class LeastPrivilege {

    static final Set<String> READ_VERBS = Set.of("get", "list", "watch");
    /** {@code group/resource}; the core group is empty. */
    static final Set<String> DISCOVERY = Set.of("/services", "discovery.k8s.io/endpointslices",
            // what discovery.export reads: Namespace labels (labelled), ServiceExports (serviceExport)
            "/namespaces", "multicluster.x-k8s.io/serviceexports");
    /** Writing the federated bundle: read it back and change it (pinned by name), or create it. */
    static final Set<String> PUBLISH_VERBS = Set.of("get", "update", "patch");
    static final Set<String> REMOTE_SECRETS = Set.of("/secrets");

    private LeastPrivilege() {}

    /** Every way {@code rules} go beyond reading {@code allowed}; empty when they do not. */
    static List<String> violations(List<PolicyRule> rules, Set<String> allowed) {
        List<String> found = new ArrayList<>();
        for (int i = 0; i < rules.size(); i++) {
            PolicyRule rule = rules.get(i);
            String at = "rules[" + i + "]";
            if (rule.getNonResourceURLs() != null && !rule.getNonResourceURLs().isEmpty()) {
                found.add(at + ": nonResourceURLs " + rule.getNonResourceURLs());
            }
            for (String verb : nullSafe(rule.getVerbs())) {
                if (!READ_VERBS.contains(verb)) {
                    found.add(at + ": verb '" + verb + "' is not get/list/watch");
                }
            }
            for (String group : nullSafe(rule.getApiGroups())) {
                for (String resource : nullSafe(rule.getResources())) {
                    String key = group + "/" + resource;
                    if (!allowed.contains(key)) {
                        found.add(at + ": resource '" + key + "' is not one of " + allowed);
                    }
                }
            }
        }
        return found;
    }

    /**
     * Every way {@code rules} go beyond trust federation's needs: read the ConfigMap {@code roots},
     * get/update/patch the ConfigMap {@code bundle} (both pinned by resourceNames), create ConfigMaps.
     */
    static List<String> federationViolations(List<PolicyRule> rules, String roots, String bundle) {
        List<String> found = new ArrayList<>();
        for (int i = 0; i < rules.size(); i++) {
            PolicyRule rule = rules.get(i);
            String at = "rules[" + i + "]";
            if (!nullSafe(rule.getNonResourceURLs()).isEmpty()) {
                found.add(at + ": nonResourceURLs " + rule.getNonResourceURLs());
            }
            if (!nullSafe(rule.getApiGroups()).equals(List.of("")) || !nullSafe(rule.getResources()).equals(List.of("configmaps"))) {
                found.add(at + ": only core configmaps, not " + rule.getApiGroups() + " " + rule.getResources());
            }
            List<String> names = nullSafe(rule.getResourceNames());
            Set<String> allowed = names.equals(List.of(roots)) ? READ_VERBS
                    : names.equals(List.of(bundle)) ? PUBLISH_VERBS
                    : names.isEmpty() ? Set.of("create") : Set.of();
            if (allowed.isEmpty()) {
                found.add(at + ": resourceNames " + names + " are neither " + roots + " nor " + bundle);
            }
            for (String verb : nullSafe(rule.getVerbs())) {
                if (!allowed.isEmpty() && !allowed.contains(verb)) {
                    found.add(at + ": verb '" + verb + "' on " + (names.isEmpty() ? "any ConfigMap" : names) + " is not one of " + allowed);
                }
            }
        }
        return found;
    }

    /** The {@code group/resource} pairs the rules let one get, list and watch. */
    static Set<String> readable(List<PolicyRule> rules) {
        Set<String> readable = new java.util.TreeSet<>();
        for (PolicyRule rule : rules) {
            if (!nullSafe(rule.getVerbs()).containsAll(READ_VERBS)) {
                continue;
            }
            for (String group : nullSafe(rule.getApiGroups())) {
                for (String resource : nullSafe(rule.getResources())) {
                    readable.add(group + "/" + resource);
                }
            }
        }
        return readable;
    }

    private static List<String> nullSafe(List<String> list) {
        return list == null ? List.of() : list;
    }
}
