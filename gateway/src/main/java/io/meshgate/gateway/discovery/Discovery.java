package io.meshgate.gateway.discovery;

import io.meshgate.gateway.config.ConfigException;
import io.meshgate.gateway.config.GatewaySpec.ClusterSpec;
import io.meshgate.gateway.config.GatewaySpec.DiscoverySpec;
import io.meshgate.routing.RemoteCluster;
import io.meshgate.routing.RouteSource;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.meshgate.gateway.config.GatewaySpec.FederationSpec;
import io.meshgate.routing.kubernetes.ClusterAttachment;
import io.meshgate.routing.kubernetes.KubernetesCluster;
import io.meshgate.tls.TlsMaterialSource;
import io.meshgate.routing.kubernetes.RemoteClusters;
import io.meshgate.routing.kubernetes.RemoteSecrets;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the routes come from ({@code discovery}): static entries, the local Kubernetes clusters,
 * remote clusters from the config and remote clusters added at runtime by labelled Secrets. Opens
 * them all the same way (a mistake is a {@link ConfigException} naming the entry's key) and closes
 * them together, last opened first.
 */
public final class Discovery implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Discovery.class);

    private final DiscoverySpec spec;
    private final String clusterDomain;
    private final MeterRegistry registry;
    private final Router router;
    /** The local clusters, in config order: the first one also reads the remote Secrets. */
    private final List<KubernetesCluster> local = new ArrayList<>();
    private final List<AutoCloseable> opened = new ArrayList<>();
    /** Attached to every cluster while it is a member (trust federation's roots watch); none by default. */
    private ClusterAttachment attachment = ClusterAttachment.NONE;
    /** Closed first: clusters closing at shutdown are not clusters leaving the mesh. */
    private TrustFederation trust;
    private boolean closed;

    /**
     * Connects the static entries and the local clusters (their watches start in {@link #start()}).
     * A cluster that cannot be set up (bad kubeconfig) closes what was opened and throws.
     */
    public Discovery(DiscoverySpec spec, String clusterDomain, MeterRegistry registry) {
        this.spec = spec;
        this.clusterDomain = clusterDomain;
        this.registry = registry;
        List<RouteSource> sources = new ArrayList<>();
        sources.add(new StaticRoutes(spec.staticServices()));
        for (ClusterSpec c : spec.clusters()) {
            if (!c.remote()) {
                KubernetesCluster cluster = open(c, () -> new KubernetesCluster(c.name(), c.kubeconfig(), spec.namespaces(),
                        spec.export(), clusterDomain, registry));
                local.add(cluster);
                sources.add(cluster);
            }
        }
        this.router = new Router(sources);
    }

    /**
     * Starts the local clusters' watches, then opens the remote clusters and the remote-Secret
     * watcher. None of them holds readiness back beyond the local caches' first sync: an
     * unreachable remote shows only in its metrics and {@code /debug/routes}.
     */
    public void start() {
        for (KubernetesCluster c : local) {
            opened.add(c.start());
            opened.add(attachment.attach(c.name(), c.client()));
        }
        for (ClusterSpec c : spec.clusters()) {
            if (c.remote()) {
                String kubeconfig = read(c);
                RemoteCluster remote = open(c, () -> RemoteClusters.open(c.name(),
                        RemoteClusters.kubeconfig(kubeconfig, c.kubeconfig().orElseThrow().toString()), c.gateway(),
                        c.gatewayService(), spec.export(), clusterDomain, registry, attachment));
                router.addSource(remote);
                opened.add(remote);
            }
        }
        Optional<String> secretsNamespace = spec.remoteSecretsNamespace();
        if (secretsNamespace.isPresent()) {
            opened.add(new RemoteSecrets(local.get(0).client(), secretsNamespace.get(), router, spec.export(),
                    clusterDomain, registry, attachment).start());
        }
    }

    /**
     * Turns on trust federation ({@code trust.federation}); call before {@link #start()}: every
     * cluster opened from then on has its roots watched, and the bundle is published into the first
     * local cluster. {@code tls}: what handshakes trust is rebuilt from it (absent: publish only).
     */
    public TrustFederation federate(FederationSpec federation, Optional<TlsMaterialSource> tls) {
        TrustFederation trust = new TrustFederation(federation, tls, registry);
        this.trust = trust;
        attachment = trust;
        if (!local.isEmpty()) {
            trust.publishTo(local.get(0).client());
        }
        return trust;
    }

    /** The router over every source; remote ones join it as they are opened. */
    public Router router() {
        return router;
    }

    private <T> T open(ClusterSpec c, java.util.function.Supplier<T> opener) {
        try {
            return opener.get();
        } catch (IllegalArgumentException e) {
            close();
            throw new ConfigException(c.key() + ": " + e.getMessage(), e);
        }
    }

    private String read(ClusterSpec c) {
        Path file = c.kubeconfig().orElseThrow();
        try {
            return Files.readString(file);
        } catch (IOException e) {
            close();
            throw new ConfigException(c.key() + ".kubeconfig: cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** Closes every source opened, last first; local clusters not started yet are closed too. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (trust != null) {
            trust.close();
        }
        List<AutoCloseable> order = new ArrayList<>(opened);
        for (KubernetesCluster c : local) {
            if (!order.contains(c)) {
                order.add(0, c);
            }
        }
        Collections.reverse(order);
        for (AutoCloseable c : order) {
            try {
                c.close();
            } catch (Exception e) {
                log.warn("closing {}: {}", c, e.toString());
            }
        }
    }
}
