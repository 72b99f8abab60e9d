package io.meshgate.gateway.cli;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBuilder;
import io.fabric8.kubernetes.api.model.rbac.PolicyRuleBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.NonDeletingOperation;
import io.meshgate.gateway.config.Defaults;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * The ServiceAccount in the source cluster whose token another cluster's meshgate uses: read-only
 * access to what discovery needs (Services, EndpointSlices, Namespaces for the export label,
 * ServiceExports) and to the cluster's published root (trust federation), nothing else.
 *
 * <p>The token comes from a {@code kubernetes.io/service-account-token} Secret, which Kubernetes
 * fills with a token that does not expire: the other cluster has no way to renew a bounded
 * TokenRequest token (it holds no other credential for this cluster), so a bounded token would
 * end the mesh link silently when it expires. Revoke it by deleting that Secret; rotate by
 * deleting it and running {@code remote-secret --create-service-account} again.
 */
final class ReaderAccount {

    static final String LABEL_KEY = "app.kubernetes.io/part-of";
    /** The shipped {@code trust.federation.rootsFrom}: the one object the reader may read in its namespace. */
    static final String ROOTS_NAMESPACE = Defaults.FEDERATION_NAMESPACE;
    static final String ROOTS_CONFIGMAP = Defaults.FEDERATION_ROOTS_NAME;

    private final String namespace;
    private final String name;

    ReaderAccount(String namespace, String name) {
        this.namespace = namespace;
        this.name = name;
    }

    /** {@code NAMESPACE/NAME}. */
    static ReaderAccount parse(String value) {
        String[] parts = value.split("/", -1);
        if (parts.length != 2 || parts[0].isBlank() || parts[1].isBlank()) {
            throw new Main.UsageException("--service-account: '" + value + "' is not NAMESPACE/NAME");
        }
        return new ReaderAccount(parts[0], parts[1]);
    }

    String tokenSecretName() {
        return name + "-token";
    }

    /** The objects {@code --create-service-account} applies, in order. */
    List<HasMetadata> objects() {
        Map<String, String> labels = Map.of(LABEL_KEY, "meshgate");
        String binding = name + "-" + namespace;
        return List.of(
                new ServiceAccountBuilder().withNewMetadata().withNamespace(namespace).withName(name).withLabels(labels).endMetadata().build(),
                new ClusterRoleBuilder().withNewMetadata().withName(binding).withLabels(labels).endMetadata()
                        .addToRules(read("", "services"), read("discovery.k8s.io", "endpointslices"), read("", "namespaces"),
                                read("multicluster.x-k8s.io", "serviceexports"))
                        .build(),
                new ClusterRoleBindingBuilder().withNewMetadata().withName(binding).withLabels(labels).endMetadata()
                        .withNewRoleRef("rbac.authorization.k8s.io", "ClusterRole", binding)
                        .addNewSubject().withKind("ServiceAccount").withNamespace(namespace).withName(name).endSubject()
                        .build(),
                new RoleBuilder().withNewMetadata().withNamespace(ROOTS_NAMESPACE).withName(name + "-roots").withLabels(labels).endMetadata()
                        .addToRules(new PolicyRuleBuilder().withApiGroups("").withResources("configmaps")
                                .withResourceNames(ROOTS_CONFIGMAP).withVerbs("get", "list", "watch").build())
                        .build(),
                new RoleBindingBuilder().withNewMetadata().withNamespace(ROOTS_NAMESPACE).withName(name + "-roots").withLabels(labels).endMetadata()
                        .withNewRoleRef("rbac.authorization.k8s.io", "Role", name + "-roots")
                        .addNewSubject().withKind("ServiceAccount").withNamespace(namespace).withName(name).endSubject()
                        .build(),
                new SecretBuilder().withNewMetadata().withNamespace(namespace).withName(tokenSecretName()).withLabels(labels)
                        .addToAnnotations("kubernetes.io/service-account.name", name).endMetadata()
                        .withType("kubernetes.io/service-account-token").build());
    }

    /** Creates (or updates) the account, its RBAC and its token Secret; the namespaces too when they are missing. */
    void create(KubernetesClient client) {
        for (String ns : new java.util.TreeSet<>(List.of(namespace, ROOTS_NAMESPACE))) {
            if (client.namespaces().withName(ns).get() == null) {
                client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
            }
        }
        for (HasMetadata object : objects()) {
            if (object instanceof Secret secret && client.secrets().inNamespace(namespace).withName(secret.getMetadata().getName()).get() != null) {
                continue; // an existing token stays valid: replacing the Secret would revoke it
            }
            client.resource(object).createOr(NonDeletingOperation::update);
        }
    }

    /** The token Kubernetes wrote into the token Secret, waiting up to {@code wait} for the token controller. */
    Token token(KubernetesClient client, Duration wait) throws InterruptedException {
        long deadline = System.nanoTime() + wait.toNanos();
        while (true) {
            Secret secret = client.secrets().inNamespace(namespace).withName(tokenSecretName()).get();
            if (secret == null) {
                throw new Main.UsageException("ServiceAccount " + namespace + "/" + name + " has no token Secret "
                        + tokenSecretName() + "; run with --create-service-account (or create it, see docs/deploy.md)");
            }
            Map<String, String> data = secret.getData();
            if (data != null && data.get("token") != null) {
                return new Token(decode(data.get("token")), data.get("ca.crt"));
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("Secret " + namespace + "/" + tokenSecretName() + " got no token within "
                        + wait.toSeconds() + "s: is the token controller (kube-controller-manager) running?");
            }
            Thread.sleep(250);
        }
    }

    /** A bearer token and the cluster CA (base64 PEM, may be null) from the token Secret. */
    record Token(String bearer, String caData) {}

    private static io.fabric8.kubernetes.api.model.rbac.PolicyRule read(String group, String resource) {
        return new PolicyRuleBuilder().withApiGroups(group).withResources(resource).withVerbs("get", "list", "watch").build();
    }

    private static String decode(String base64) {
        return new String(Base64.getDecoder().decode(base64), StandardCharsets.UTF_8);
    }
}
