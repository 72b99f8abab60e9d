package io.meshgate.gateway.cli;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReview;
import io.fabric8.kubernetes.api.model.authorization.v1.SelfSubjectAccessReviewBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.ConfigBinder;
import io.meshgate.gateway.config.Defaults;
import io.meshgate.gateway.config.MeshgateConfig;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.kubernetes.GatewayService;
import io.meshgate.routing.kubernetes.RemoteClusters;
import io.meshgate.routing.kubernetes.RemoteSecrets;
import io.meshgate.tls.Pem;
import io.meshgate.tls.TlsMaterialException;
import io.meshgate.tls.TrustBundle;
import io.meshgate.tls.TrustBundleException;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code meshgate check --config FILE}: what {@code linkerd multicluster check} does for a link,
 * for one gateway's config: the config is valid, its files are readable, the serving chain leads
 * to a root of the bundle, every cluster's API server answers and grants what discovery needs and,
 * with {@code trust.federation}, reading its published roots (and, locally, writing the federated
 * bundle) (asked with SelfSubjectAccessReview, so nothing is read), and every remote cluster's east-west
 * gateway accepts a TCP connection. One PASS/FAIL line per check; exit 0 when all pass, 1 when
 * one fails, 2 when the config itself is invalid.
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Checks a config against the world it will run in: files, certificate chain, API servers and",
                "their permissions, remote gateways. Prints PASS/FAIL per check; exit 0 all passed, 1 a check failed,",
                "2 the config is invalid."})
public final class CheckCommand implements Callable<Integer> {

    @Option(names = "--config", required = true, paramLabel = "FILE", description = "meshgate.yaml")
    Path config;

    @Option(names = "--timeout", defaultValue = "5s", paramLabel = "DURATION",
            description = "per network check: API request, gateway connect, gateway address lookup (default: ${DEFAULT-VALUE})")
    String timeout;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private PrintWriter out;
    private int failed;

    /**
     * A request meshgate makes: {@code verb resource} in {@code group}, in {@code namespace} (null: all
     * namespaces), on the object {@code name} (null: any object).
     */
    private record Permission(String group, String resource, String verb, String namespace, String name) {
        Permission(String group, String resource, String verb) {
            this(group, resource, verb, null, null);
        }

        @Override
        public String toString() {
            return verb + " " + (group.isEmpty() ? "" : group + "/") + resource + (name == null ? "" : " " + name)
                    + (namespace == null ? "" : " in " + namespace);
        }
    }

    /** What discovery asks of every cluster, all namespaces. */
    private static final List<Permission> DISCOVERY = List.of(
            new Permission("", "services", "list"), new Permission("", "services", "watch"),
            new Permission("discovery.k8s.io", "endpointslices", "list"), new Permission("discovery.k8s.io", "endpointslices", "watch"),
            new Permission("", "namespaces", "list"), new Permission("", "namespaces", "watch"));

    /** What discovery and trust federation ask of a cluster ({@code local}: also publishing the bundle into it). */
    private static List<Permission> needed(MeshgateConfig cfg, boolean local) {
        List<Permission> needed = new ArrayList<>(DISCOVERY);
        if (local && cfg.discovery().remoteSecrets() != null) {
            String ns = cfg.discovery().remoteSecrets().namespace();
            needed.add(new Permission("", "secrets", "list", ns, null));
            needed.add(new Permission("", "secrets", "watch", ns, null));
        }
        MeshgateConfig.Federation federation = cfg.trust().federation();
        if (federation != null) {
            MeshgateConfig.RootsFrom roots = federation.rootsFrom();
            String resource = "Secret".equals(roots.kind()) ? "secrets" : "configmaps";
            for (String verb : List.of("get", "list", "watch")) {
                needed.add(new Permission("", resource, verb, roots.namespace(), roots.name()));
            }
            if (local) {
                MeshgateConfig.Publish publish = federation.publish();
                needed.add(new Permission("", "configmaps", "create", publish.namespace(), null));
                for (String verb : List.of("get", "update")) {
                    needed.add(new Permission("", "configmaps", verb, publish.namespace(), publish.name()));
                }
            }
        }
        return needed;
    }

    @Override
    public Integer call() {
        out = spec.commandLine().getOut();
        Duration wait;
        try {
            wait = io.meshgate.gateway.config.Durations.parse(timeout);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException("--timeout: " + e.getMessage());
        }
        MeshgateConfig cfg;
        try {
            cfg = ConfigLoader.load(config);
        } catch (ConfigException e) {
            line(false, "config", e.getMessage());
            out.flush();
            return Main.EXIT_USAGE;
        }
        line(true, "config", config + " is valid");
        if (cfg.tls() != null) {
            checkTls(cfg.tls());
        }
        for (MeshgateConfig.Cluster c : cfg.discovery().clusters()) {
            checkCluster(cfg, c, wait);
        }
        out.println(failed == 0 ? "all checks passed" : failed + " check(s) failed");
        out.flush();
        return failed == 0 ? Main.EXIT_OK : Main.EXIT_FAILURE;
    }

    private void checkTls(MeshgateConfig.Tls tls) {
        Path chainFile = ConfigBinder.resolve(config, tls.certificateChain());
        Path keyFile = ConfigBinder.resolve(config, tls.privateKey());
        Path bundleFile = ConfigBinder.resolve(config, tls.trustBundle());
        List<X509Certificate> chain = null;
        TrustBundle bundle = null;
        try {
            chain = Pem.readCertificates(chainFile);
            line(true, "tls.certificateChain", chainFile + ": " + chain.size() + " certificate(s)");
        } catch (TlsMaterialException e) {
            line(false, "tls.certificateChain", e.getMessage());
        }
        try {
            Pem.readPrivateKey(keyFile);
            line(true, "tls.privateKey", keyFile + " is a readable private key");
        } catch (TlsMaterialException e) {
            line(false, "tls.privateKey", e.getMessage());
        }
        try {
            bundle = TrustBundle.load(bundleFile);
            line(true, "tls.trustBundle", bundleFile + ": " + bundle.roots().size() + " root(s)");
        } catch (TrustBundleException e) {
            line(false, "tls.trustBundle", e.getMessage());
        }
        if (chain != null && bundle != null && !chain.isEmpty()) {
            try {
                PKIXParameters params = new PKIXParameters(bundle.anchors());
                params.setRevocationEnabled(false);
                CertPathValidator.getInstance("PKIX").validate(
                        CertificateFactory.getInstance("X.509").generateCertPath(chainWithoutRoots(chain, bundle)), params);
                line(true, "serving chain", chain.get(0).getSubjectX500Principal().getName() + " leads to a root of the bundle");
            } catch (GeneralSecurityException e) {
                line(false, "serving chain", chain.get(0).getSubjectX500Principal().getName()
                        + " does not lead to a root of the bundle: " + e.getMessage());
            }
        }
    }

    /** The chain as sent, minus a root the bundle already holds (PKIX wants the path below the anchor). */
    private static List<X509Certificate> chainWithoutRoots(List<X509Certificate> chain, TrustBundle bundle) {
        List<X509Certificate> path = new ArrayList<>(chain);
        path.removeIf(c -> bundle.certificates().contains(c) && path.size() > 1);
        return path;
    }

    private void checkCluster(MeshgateConfig cfg, MeshgateConfig.Cluster c, Duration wait) {
        String what = "cluster " + c.name();
        Config clientConfig;
        try {
            if (c.kubeconfig() == null) {
                clientConfig = Config.autoConfigure(null);
            } else {
                Path file = ConfigBinder.resolve(config, c.kubeconfig());
                clientConfig = RemoteClusters.kubeconfig(Files.readString(file, StandardCharsets.UTF_8), file.toString());
            }
        } catch (IOException | IllegalArgumentException e) {
            line(false, what, "kubeconfig: " + e.getMessage());
            return;
        }
        try (KubernetesClient client = client(clientConfig, wait)) {
            if (!permissions(what, client, needed(cfg, !c.remote()))) {
                return;
            }
            if (c.remote()) {
                checkGateway(what, client, c.gateway(), c.gatewayService(), wait);
            } else if (cfg.discovery().remoteSecrets() != null) {
                checkRemoteSecrets(cfg, client, wait);
            }
        }
    }

    /** One SelfSubjectAccessReview per permission; the API server's answer is the check. */
    private boolean permissions(String what, KubernetesClient client, List<Permission> needed) {
        List<String> denied = new ArrayList<>();
        try {
            for (Permission p : needed) {
                SelfSubjectAccessReview review = client.authorization().v1().selfSubjectAccessReview().create(
                        new SelfSubjectAccessReviewBuilder().withNewSpec().withNewResourceAttributes()
                                .withGroup(p.group()).withResource(p.resource()).withVerb(p.verb())
                                .withNamespace(p.namespace()).withName(p.name())
                                .endResourceAttributes().endSpec().build());
                if (review.getStatus() == null || !Boolean.TRUE.equals(review.getStatus().getAllowed())) {
                    denied.add(p.toString());
                }
            }
        } catch (KubernetesClientException e) {
            line(false, what, "API server " + client.getConfiguration().getMasterUrl() + " unreachable or refused: "
                    + RemoteSecretCommand.apiProblem(e));
            return false;
        }
        line(true, what, "API server " + client.getConfiguration().getMasterUrl() + " answers");
        if (denied.isEmpty()) {
            line(true, what, "may " + needed.stream().map(Permission::toString).distinct().toList());
            return true;
        }
        line(false, what, "not allowed: " + denied + " (see deploy/base/rbac.yaml, or remote-secret --create-service-account)");
        return false;
    }

    private void checkRemoteSecrets(MeshgateConfig cfg, KubernetesClient local, Duration wait) {
        String namespace = cfg.discovery().remoteSecrets().namespace();
        List<Secret> secrets;
        try {
            secrets = local.secrets().inNamespace(namespace).withLabel(RemoteSecrets.LABEL, "true").list().getItems();
        } catch (KubernetesClientException e) {
            line(false, "remote Secrets", "cannot list Secrets in " + namespace + ": " + RemoteSecretCommand.apiProblem(e));
            return;
        }
        for (Secret s : secrets) {
            String name = Optional.ofNullable(s.getMetadata().getAnnotations()).map(a -> a.get(RemoteSecrets.NAME_ANNOTATION))
                    .orElse(s.getMetadata().getName());
            String what = "cluster " + name + " (Secret " + namespace + "/" + s.getMetadata().getName() + ")";
            String kubeconfig = RemoteSecrets.value(s, "kubeconfig").orElse(null);
            if (kubeconfig == null) {
                line(false, what, "no 'kubeconfig' key");
                continue;
            }
            Config config;
            try {
                config = RemoteClusters.kubeconfig(kubeconfig, "Secret " + namespace + "/" + s.getMetadata().getName());
            } catch (IllegalArgumentException e) {
                line(false, what, e.getMessage());
                continue;
            }
            try (KubernetesClient remote = client(config, wait)) {
                if (permissions(what, remote, needed(cfg, false))) {
                    checkGateway(what, remote, RemoteSecrets.value(s, "gateway").orElse(null),
                            RemoteSecrets.value(s, "gatewayService").map(String::trim).orElse(Defaults.GATEWAY_SERVICE), wait);
                }
            }
        }
    }

    /** The remote east-west gateway (fixed, or from its LoadBalancer Service) accepts a TCP connection. */
    private void checkGateway(String what, KubernetesClient remote, String fixed, String gatewayService, Duration wait) {
        Optional<Endpoint> address;
        String from;
        if (fixed != null) {
            address = Optional.of(Endpoint.parse(fixed.trim()));
            from = "configured";
        } else {
            from = "from Service " + gatewayService;
            try (GatewayService service = new GatewayService(what, remote, gatewayService).start()) {
                long deadline = System.nanoTime() + wait.toNanos();
                address = service.address();
                while (address.isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                    address = service.address();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (address.isEmpty()) {
            line(false, what, "east-west gateway: no address " + from + " (no load-balancer ingress yet?)");
            return;
        }
        try (Socket socket = new Socket()) {
            socket.connect(address.get().socketAddress(), (int) wait.toMillis());
            line(true, what, "east-west gateway " + address.get() + " (" + from + ") accepts connections");
        } catch (IOException e) {
            line(false, what, "east-west gateway " + address.get() + " (" + from + "): " + e.getMessage());
        }
    }

    private static KubernetesClient client(Config config, Duration wait) {
        config.setConnectionTimeout((int) wait.toMillis());
        config.setRequestTimeout((int) wait.toMillis());
        config.setRequestRetryBackoffLimit(0);
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    private void line(boolean pass, String what, String detail) {
        if (!pass) {
            failed++;
        }
        out.println((pass ? "PASS " : "FAIL ") + what + ": " + detail);
    }
}
