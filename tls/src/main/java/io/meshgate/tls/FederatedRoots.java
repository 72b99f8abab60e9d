package io.meshgate.tls;

import java.io.IOException;
import java.io.StringReader;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMParser;

/**
 * The roots each cluster publishes about itself ({@code trust.federation.rootsFrom}), kept per
 * source cluster with the membership rules of trust federation: a root that disappears from its
 * cluster's source, or whose cluster leaves, stays trusted for {@code removalGrace} (root rotation
 * overlaps old and new, as SPIFFE federation asks), then goes. A source that holds no valid CA
 * certificate (garbage, a leaf, only expired roots) is refused with a reason and the cluster's
 * last good roots stay. Immutable snapshots are swapped in one volatile write; readers never lock.
 * Feeding it (watching each cluster's source) and publishing the result belong to the caller.
 */
public final class FederatedRoots {

    /** One root and the cluster it came from; {@code retiringAt} is set while it is in its grace period. */
    public record SourcedRoot(TrustRoot root, String cluster, Instant retiringAt) {
        /** The label of {@code /debug/trust} and {@code meshgate_trust_roots{source}}. */
        public String source() {
            return "cluster:" + cluster;
        }
    }

    /** What an update did: accepted (with the number of roots) or refused (with why; the last good roots stay). */
    public record Update(String cluster, boolean accepted, int roots, String problem) {}

    private final Duration removalGrace;
    private final Clock clock;
    private final Object writeLock = new Object();
    /** cluster → sha256 → root; retiring roots included. Replaced whole on every change. */
    private volatile Map<String, Map<String, SourcedRoot>> byCluster = Map.of();

    public FederatedRoots(Duration removalGrace, Clock clock) {
        if (removalGrace.isNegative()) {
            throw new IllegalArgumentException("removalGrace must not be negative");
        }
        this.removalGrace = removalGrace;
        this.clock = clock;
    }

    /**
     * A cluster's source now reads {@code pem}: its valid CA certificates become that cluster's
     * roots; roots it no longer lists start their grace period. Refused (nothing changes) when the
     * text holds no valid, unexpired CA certificate; invalid entries next to valid ones are
     * skipped and named in {@code problem}.
     */
    public Update update(String cluster, String pem) {
        Instant now = clock.instant();
        List<X509Certificate> found;
        try {
            found = parse(pem);
        } catch (IOException | CertificateException | RuntimeException e) {
            return new Update(cluster, false, 0, "not PEM certificates: " + e.getMessage());
        }
        List<String> skipped = new ArrayList<>();
        Map<String, SourcedRoot> fresh = new LinkedHashMap<>();
        for (X509Certificate c : found) {
            TrustRoot root = TrustRoot.of(c);
            if (c.getBasicConstraints() < 0) {
                skipped.add(root.subject() + " is not a CA certificate");
            } else if (c.getNotAfter().toInstant().isBefore(now)) {
                skipped.add(root.subject() + " expired at " + root.notAfter());
            } else if (c.getNotBefore().toInstant().isAfter(now)) {
                skipped.add(root.subject() + " is not valid before " + c.getNotBefore().toInstant());
            } else {
                fresh.putIfAbsent(root.sha256(), new SourcedRoot(root, cluster, null));
            }
        }
        if (fresh.isEmpty()) {
            return new Update(cluster, false, 0, found.isEmpty() ? "holds no certificate"
                    : "holds no valid CA certificate: " + String.join("; ", skipped));
        }
        synchronized (writeLock) {
            Map<String, SourcedRoot> merged = new LinkedHashMap<>(fresh);
            for (SourcedRoot old : byCluster.getOrDefault(cluster, Map.of()).values()) {
                if (!merged.containsKey(old.root().sha256())) {
                    merged.put(old.root().sha256(), old.retiringAt() != null ? old
                            : new SourcedRoot(old.root(), cluster, now.plus(removalGrace)));
                }
            }
            replace(cluster, merged, now);
        }
        return new Update(cluster, true, fresh.size(), skipped.isEmpty() ? null : "skipped: " + String.join("; ", skipped));
    }

    /** The cluster left (remote Secret deleted, config entry removed) or its source was deleted: all its roots retire. */
    public void clusterLeft(String cluster) {
        Instant now = clock.instant();
        synchronized (writeLock) {
            Map<String, SourcedRoot> retiring = new LinkedHashMap<>();
            byCluster.getOrDefault(cluster, Map.of()).forEach((sha, r) -> retiring.put(sha,
                    r.retiringAt() != null ? r : new SourcedRoot(r.root(), cluster, now.plus(removalGrace))));
            replace(cluster, retiring, now);
        }
    }

    /** Every root trusted now, in cluster then publication order; a root several clusters publish is listed per cluster. */
    public List<SourcedRoot> roots() {
        Instant now = clock.instant();
        List<SourcedRoot> all = new ArrayList<>();
        for (Map<String, SourcedRoot> roots : byCluster.values()) {
            for (SourcedRoot r : roots.values()) {
                if (r.retiringAt() == null || now.isBefore(r.retiringAt())) {
                    all.add(r);
                }
            }
        }
        return all;
    }

    /**
     * The earliest instant a retiring root still trusted now leaves, for scheduling the next rebuild
     * of the bundle (a root already gone is not pending: a rebuild scheduled for it would repeat).
     */
    public Optional<Instant> nextRetirement() {
        Instant now = clock.instant();
        return byCluster.values().stream().flatMap(m -> m.values().stream())
                .map(SourcedRoot::retiringAt).filter(java.util.Objects::nonNull).filter(now::isBefore)
                .min(Instant::compareTo);
    }

    /** File roots ∪ every cluster's current roots, deduplicated (file order first). */
    public TrustBundle union(TrustBundle fileRoots) throws TrustBundleException {
        List<X509Certificate> all = new ArrayList<>(fileRoots.certificates());
        roots().forEach(r -> all.add(r.root().certificate()));
        return TrustBundle.of(fileRoots.file(), all, clock.instant());
    }

    private void replace(String cluster, Map<String, SourcedRoot> roots, Instant now) {
        Map<String, Map<String, SourcedRoot>> next = new LinkedHashMap<>(byCluster);
        roots.values().removeIf(r -> r.retiringAt() != null && !now.isBefore(r.retiringAt()));
        if (roots.isEmpty()) {
            next.remove(cluster);
        } else {
            next.put(cluster, Collections.unmodifiableMap(new LinkedHashMap<>(roots)));
        }
        byCluster = Collections.unmodifiableMap(next);
    }

    private static List<X509Certificate> parse(String pem) throws IOException, CertificateException {
        List<X509Certificate> certificates = new ArrayList<>();
        if (pem == null) {
            return certificates;
        }
        JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
        try (PEMParser parser = new PEMParser(new StringReader(pem))) {
            Object o;
            while ((o = parser.readObject()) != null) {
                if (o instanceof X509CertificateHolder holder) {
                    certificates.add(converter.getCertificate(holder));
                }
            }
        }
        return certificates;
    }
}
