package io.meshgate.gateway.discovery;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.meshgate.gateway.config.GatewaySpec.FederationSpec;
import io.meshgate.routing.kubernetes.ClusterAttachment;
import io.meshgate.routing.kubernetes.RootsWatch;
import io.meshgate.tls.FederatedRoots;
import io.meshgate.tls.Pem;
import io.meshgate.tls.TlsMaterialSource;
import io.meshgate.tls.TrustRoot;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Trust federation ({@code trust.federation}): every cluster the gateway knows (local entries of
 * {@code discovery.clusters}, remote entries, remote-Secret clusters as they come and go) is
 * attached through {@link ClusterAttachment}; for each, a {@link RootsWatch} on {@code rootsFrom}
 * in that cluster feeds {@link FederatedRoots} under {@code cluster:<name>}. On every change the
 * TLS source rebuilds what new handshakes trust (file roots ∪ cluster roots: terminate listener
 * client verification and upstream mTLS alike) and the {@link FederatedBundlePublisher} writes the
 * same bundle into the local cluster. A cluster that leaves, or stops publishing, retires its roots
 * after {@code removalGrace}; a source without a valid CA certificate is refused, counted in
 * {@code meshgate_trust_roots_rejected_total{cluster,reason}}, logged once per change of its
 * content, and the cluster's last good roots stay.
 *
 * <p>Every event runs on one thread of its own ({@code meshgate-trust-federation}), in order:
 * informer threads only hand over, event loops are never involved (they read the rebuilt bundle
 * through one volatile read in {@link TlsMaterialSource}).
 */
public final class TrustFederation implements ClusterAttachment, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TrustFederation.class);

    /** Why a cluster's source was refused; the {@code reason} label. */
    public enum Rejection {
        GARBAGE, NOT_CA, NOT_ROOT, EXPIRED, NOT_YET_VALID;

        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        static Rejection of(String problem) {
            if (problem.contains("is not a CA certificate")) {
                return NOT_CA;
            }
            if (problem.contains("is not a root")) {
                return NOT_ROOT;
            }
            if (problem.contains("expired at")) {
                return EXPIRED;
            }
            if (problem.contains("is not valid before")) {
                return NOT_YET_VALID;
            }
            return GARBAGE;
        }
    }

    private final FederationSpec spec;
    private final Optional<TlsMaterialSource> tls;
    private final FederatedRoots roots;
    private final MeterRegistry registry;
    private final RootsWatch.Source source;
    private final ScheduledExecutorService events;
    /** The current attachment per cluster name; an older one (a replaced Secret) no longer speaks for it. */
    private final Map<String, Member> members = new ConcurrentHashMap<>();
    private final Map<String, Counter> rejected = new ConcurrentHashMap<>();
    private volatile FederatedBundlePublisher publisher;
    private ScheduledFuture<?> retirement;
    private ScheduledFuture<?> retry;
    static final Duration FIRST_PUBLISH_BACKOFF = Duration.ofSeconds(1);
    static final Duration MAX_PUBLISH_BACKOFF = Duration.ofMinutes(1);
    private Duration backoff = FIRST_PUBLISH_BACKOFF;
    private volatile boolean closed;

    public TrustFederation(FederationSpec spec, Optional<TlsMaterialSource> tls, MeterRegistry registry) {
        this(spec, tls, registry, Clock.systemUTC());
    }

    TrustFederation(FederationSpec spec, Optional<TlsMaterialSource> tls, MeterRegistry registry, Clock clock) {
        this.spec = spec;
        this.tls = tls;
        this.registry = registry;
        this.roots = new FederatedRoots(spec.removalGrace(), clock);
        this.source = new RootsWatch.Source(spec.rootsFrom().kind(), spec.rootsFrom().namespace(), spec.rootsFrom().name(),
                spec.rootsFrom().key());
        this.events = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "meshgate-trust-federation");
            t.setDaemon(true);
            return t;
        });
        tls.ifPresent(t -> t.federate(roots));
    }

    /** Writes the federated bundle into the local cluster (through {@code client}) from now on. */
    public void publishTo(KubernetesClient client) {
        events.execute(() -> {
            publisher = new FederatedBundlePublisher(client, spec.publish(), registry);
            changed();
        });
    }

    /** Starts watching {@code cluster}'s roots; the handle's close means the cluster left. */
    @Override
    public AutoCloseable attach(String cluster, KubernetesClient client) {
        Member member = new Member(cluster);
        members.put(cluster, member);
        member.watch = new RootsWatch(cluster, client, source, (c, pem) -> run(() -> roots(member, pem))).start();
        log.info("trust federation: watching {} in cluster {}", source, cluster);
        return member;
    }

    /** The roots per cluster, for tests and the admin view. */
    public FederatedRoots roots() {
        return roots;
    }

    private void roots(Member member, String pem) {
        if (members.get(member.cluster) != member) {
            return; // a replaced attachment (its Secret changed); the new one reports for the cluster
        }
        if (pem == null) {
            if (!roots.roots().stream().filter(r -> r.cluster().equals(member.cluster)).toList().isEmpty()) {
                log.warn("trust federation: cluster {} no longer publishes roots in {}; they stay trusted for {}",
                        member.cluster, source, spec.removalGrace());
            }
            roots.clusterLeft(member.cluster);
            changed();
            return;
        }
        FederatedRoots.Update update = roots.update(member.cluster, pem);
        if (!update.accepted()) {
            reject(member.cluster, update.problem(), true);
            return;
        }
        if (update.problem() != null) {
            reject(member.cluster, update.problem(), false);
        }
        log.info("trust federation: cluster {} publishes {} root(s): {}", member.cluster, update.roots(),
                roots.roots().stream().filter(r -> r.cluster().equals(member.cluster) && r.retiringAt() == null)
                        .map(r -> r.root().sha256()).toList());
        changed();
    }

    private void reject(String cluster, String problem, boolean whole) {
        Rejection reason = Rejection.of(problem);
        rejected.computeIfAbsent(cluster + "\u0000" + reason, k -> Counter.builder("meshgate.trust.roots.rejected")
                .description("Roots sources (or entries in them) refused by trust federation, by cluster and reason")
                .tag("cluster", cluster).tag("reason", reason.label()).register(registry)).increment();
        // One line per change of the source's content: RootsWatch reports only real changes.
        if (whole) {
            log.warn("trust federation: cluster {} roots refused (reason {}): {} in {}; keeping its last good roots",
                    cluster, reason.label(), problem, source);
        } else {
            log.warn("trust federation: cluster {}: entries ignored (reason {}): {}", cluster, reason.label(), problem);
        }
    }

    /** Rebuilds what handshakes trust and the published bundle; schedules the next retirement. */
    private void changed() {
        tls.ifPresent(TlsMaterialSource::rootsChanged);
        publish();
        if (retirement != null) {
            retirement.cancel(false);
            retirement = null;
        }
        Optional<Instant> next = roots.nextRetirement();
        if (next.isPresent() && !closed) {
            long delay = Math.max(0, Duration.between(Instant.now(), next.get()).toMillis()) + 1;
            retirement = events.schedule(this::changed, delay, TimeUnit.MILLISECONDS);
        }
    }

    /** Writes the bundle (and the ClusterTrustBundles); a failure is retried with backoff, 1 s doubling to 1 min. */
    private void publish() {
        FederatedBundlePublisher p = publisher;
        if (p == null || closed) {
            return;
        }
        boolean written = p.publish(bundlePem()) != FederatedBundlePublisher.Result.FAILED;
        if (written) {
            Map<String, String> perCluster = new java.util.TreeMap<>();
            roots.roots().stream().collect(java.util.stream.Collectors.groupingBy(FederatedRoots.SourcedRoot::cluster))
                    .forEach((cluster, list) -> perCluster.put(cluster, Pem.encode(list.stream()
                            .map(r -> r.root()).sorted(Comparator.comparing(TrustRoot::sha256)).map(TrustRoot::certificate)
                            .distinct().toList())));
            written = p.publishClusterTrustBundles(perCluster, spec.publish().signerName());
        }
        if (!written) {
            if (retry == null || retry.isDone()) {
                retry = events.schedule(this::publish, backoff.toMillis(), TimeUnit.MILLISECONDS);
                backoff = backoff.multipliedBy(2).compareTo(MAX_PUBLISH_BACKOFF) > 0 ? MAX_PUBLISH_BACKOFF : backoff.multipliedBy(2);
            }
            return;
        }
        backoff = FIRST_PUBLISH_BACKOFF;
    }

    /**
     * The federated bundle as PEM: file roots first (their order), then every cluster's roots
     * ordered by SHA-256, each root once; the same text on every gateway that trusts the same roots.
     */
    String bundlePem() {
        Map<String, X509Certificate> unique = new LinkedHashMap<>();
        tls.ifPresent(t -> t.current().bundle().roots().forEach(r -> unique.putIfAbsent(r.sha256(), r.certificate())));
        roots.roots().stream().map(FederatedRoots.SourcedRoot::root).sorted(Comparator.comparing(TrustRoot::sha256))
                .forEach(r -> unique.putIfAbsent(r.sha256(), r.certificate()));
        return unique.isEmpty() ? "" : Pem.encode(new ArrayList<>(unique.values()));
    }

    private void run(Runnable task) {
        if (closed) {
            return;
        }
        try {
            events.execute(() -> {
                try {
                    task.run();
                } catch (RuntimeException e) {
                    log.warn("trust federation: {}", e.toString());
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            // closing
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Member m : List.copyOf(members.values())) {
            m.watch.close();
        }
        events.shutdownNow();
        rejected.values().forEach(registry::remove);
        FederatedBundlePublisher p = publisher;
        if (p != null) {
            p.close();
        }
    }

    /** One cluster's attachment: its roots watch; closing it means the cluster left. */
    private final class Member implements AutoCloseable {
        final String cluster;
        RootsWatch watch;

        Member(String cluster) {
            this.cluster = Objects.requireNonNull(cluster);
        }

        @Override
        public void close() {
            watch.close();
            run(() -> {
                if (members.remove(cluster, this)) {
                    log.info("trust federation: cluster {} left; its roots stay trusted for {}", cluster, spec.removalGrace());
                    roots.clusterLeft(cluster);
                    changed();
                }
            });
        }
    }
}
