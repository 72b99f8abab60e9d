package io.meshgate.tls;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes the current {@link TlsMaterial} and replaces it when the chain, key or bundle files
 * change, including Kubernetes' atomic {@code ..data} symlink swap of mounted Secrets and
 * ConfigMaps. New handshakes pick up the new contexts; open connections keep theirs. A broken
 * file keeps the old material, is logged and counted.
 *
 * <p>Change detection: a WatchService on the files' parent directories wakes the reload thread
 * at once; a content hash of the three files, checked every {@code pollInterval}, catches what
 * the watcher misses (symlinked mounts, network file systems). Changes settle for
 * {@code debounce} before loading, so a chain and key written one after the other load together.
 */
public final class TlsMaterialSource implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TlsMaterialSource.class);
    public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(1);
    public static final Duration DEFAULT_DEBOUNCE = Duration.ofMillis(200);

    /** Result of one reload attempt. */
    public enum ReloadResult { OK, FAILED, UNCHANGED }

    private final TlsFiles files;
    private final Set<String> allowedTrustDomains;
    /** Who may call, kept across every reload: new material gets the same allow-policy. */
    private final AllowedIdentities allowedIdentities;
    private final Duration pollInterval;
    private final Duration debounce;
    private final Counter reloadOk;
    private final Counter reloadFailed;
    private final MultiGauge expiry;
    private final Object reloadLock = new Object();

    private volatile TlsMaterial current;
    /** What handshakes trust: the file's roots ∪ the federated clusters' roots; swapped whole. */
    private volatile TrustBundle effective;
    private volatile FederatedRoots federation;
    /** When the next federated root retires (the bundle is rebuilt then); null: none pending. */
    private volatile Instant rebuildAt;
    private final MultiGauge trustRoots;
    /** Guards rebuilding {@link #effective}; event loops only ever tryLock it (no I/O happens under it). */
    private final java.util.concurrent.locks.ReentrantLock rebuild = new java.util.concurrent.locks.ReentrantLock();
    private volatile String lastFailure;
    /** SHA-256 of every root trusted while the current SSL contexts' sessions were made; guarded by reloadLock. */
    private java.util.Set<String> sessionRoots;
    /** Hash of the file contents last attempted (loaded or refused); only the reload thread and reload() touch it. */
    private String attemptedHash;
    private WatchService watcher;
    private Thread thread;
    private volatile boolean closed;

    /** Loads the material once (failing with the file and reason); call {@link #start()} to follow changes. */
    public TlsMaterialSource(TlsFiles files, Set<String> allowedTrustDomains, MeterRegistry registry) throws TlsMaterialException {
        this(files, allowedTrustDomains, AllowedIdentities.ANY, registry);
    }

    /** As {@link #TlsMaterialSource(TlsFiles, Set, MeterRegistry)}, accepting only callers {@code allowedIdentities} allows. */
    public TlsMaterialSource(TlsFiles files, Set<String> allowedTrustDomains, AllowedIdentities allowedIdentities,
                             MeterRegistry registry) throws TlsMaterialException {
        this(files, allowedTrustDomains, allowedIdentities, registry, DEFAULT_POLL_INTERVAL, DEFAULT_DEBOUNCE);
    }

    public TlsMaterialSource(TlsFiles files, Set<String> allowedTrustDomains, MeterRegistry registry,
                             Duration pollInterval, Duration debounce) throws TlsMaterialException {
        this(files, allowedTrustDomains, AllowedIdentities.ANY, registry, pollInterval, debounce);
    }

    public TlsMaterialSource(TlsFiles files, Set<String> allowedTrustDomains, AllowedIdentities allowedIdentities,
                             MeterRegistry registry, Duration pollInterval, Duration debounce) throws TlsMaterialException {
        this(files, allowedTrustDomains, allowedIdentities, registry, pollInterval, debounce, true);
    }

    /**
     * Material the gateway makes for itself and throws away (the start-up warm-up's), loaded like
     * any other but without the INFO line that names the serving identity: operators read that line
     * as the gateway's own identity.
     */
    public static TlsMaterialSource unannounced(TlsFiles files, Set<String> allowedTrustDomains, MeterRegistry registry)
            throws TlsMaterialException {
        return new TlsMaterialSource(files, allowedTrustDomains, AllowedIdentities.ANY, registry, DEFAULT_POLL_INTERVAL,
                DEFAULT_DEBOUNCE, false);
    }

    private TlsMaterialSource(TlsFiles files, Set<String> allowedTrustDomains, AllowedIdentities allowedIdentities,
                              MeterRegistry registry, Duration pollInterval, Duration debounce, boolean announce)
            throws TlsMaterialException {
        this.files = files;
        this.allowedTrustDomains = Set.copyOf(allowedTrustDomains);
        this.allowedIdentities = allowedIdentities;
        this.pollInterval = pollInterval;
        this.debounce = debounce;
        this.attemptedHash = contentHash();
        this.current = TlsMaterial.load(files, this.allowedTrustDomains, allowedIdentities, this::currentBundle, Instant.now(), true);
        this.effective = current.bundle();
        this.sessionRoots = new java.util.HashSet<>();
        current.bundle().roots().forEach(r -> sessionRoots.add(r.sha256()));
        this.reloadOk = Counter.builder("meshgate.tls.reload").tag("result", "ok")
                .description("TLS material reloads by result").register(registry);
        this.reloadFailed = Counter.builder("meshgate.tls.reload").tag("result", "failed")
                .description("TLS material reloads by result").register(registry);
        Gauge.builder("meshgate.tls.trust.roots", this, s -> s.current().bundle().roots().size())
                .description("Roots in the current trust bundle").strongReference(true).register(registry);
        this.trustRoots = MultiGauge.builder("meshgate.trust.roots")
                .description("Roots in the trust bundle, by where they come from (file, cluster:<name>)").register(registry);
        publishRootCounts();
        this.expiry = MultiGauge.builder("meshgate.tls.certificate.expiry").baseUnit("seconds")
                .description("Seconds until the certificate expires (serving, or a root by SHA-256)").register(registry);
        publishExpiry(current);
        if (announce) {
            log.info("TLS material loaded: serving {} (expires {}), {} trust root(s) from {}", current.servingId(),
                    current.leaf().getNotAfter().toInstant(), current.bundle().roots().size(), files.trustBundle());
        }
    }

    /** The material for a new handshake; one volatile read. */
    public TlsMaterial current() {
        return current;
    }

    /** What the last refused reload said, or null once a reload succeeds. */
    public String lastFailure() {
        return lastFailure;
    }

    public TrustView trustView() {
        List<TrustView.Root> roots = new ArrayList<>();
        current.bundle().roots().forEach(r -> roots.add(new TrustView.Root(r.subject(), r.sha256(), r.notAfter().toString(), "file")));
        FederatedRoots f = federation;
        if (f != null) {
            f.roots().forEach(r -> roots.add(new TrustView.Root(r.root().subject(), r.root().sha256(), r.root().notAfter().toString(),
                    r.source())));
        }
        return TrustView.of(current, roots, currentBundle().loadedAt());
    }

    /** The bundle handshakes trust now (file roots ∪ federated roots). */
    public TrustBundle trustBundle() {
        return currentBundle();
    }

    /** The current bundle as a SPIFFE bundle (JWK set); the sequence is the bundle's build time in milliseconds. */
    public java.util.Map<String, Object> spiffeBundle() {
        TrustBundle bundle = currentBundle();
        return SpiffeBundle.of(bundle.certificates(), bundle.loadedAt().toEpochMilli(), SpiffeBundle.DEFAULT_REFRESH_HINT_SECONDS);
    }

    /**
     * Adds the roots other clusters publish ({@link FederatedRoots}) to what handshakes trust;
     * call {@link #rootsChanged()} after each update of {@code roots}.
     */
    public void federate(FederatedRoots roots) {
        this.federation = roots;
        rootsChanged();
    }

    /**
     * Rebuilds the trusted bundle from the file's roots and the federated ones, for new
     * handshakes; a retiring root's departure triggers it by itself.
     */
    public void rootsChanged() {
        rebuild.lock();
        try {
            effective = compose(current.bundle());
        } finally {
            rebuild.unlock();
        }
        publishRootCounts();
        endSessionsOfRetiredRoots();
    }

    /**
     * Replaces the SSL contexts when a root that the current ones' sessions may rest on has left
     * the trust: a resumed session is not verified again, so a caller of a removed root could
     * otherwise resume its way in. Runs off the event loops (federation thread, file reload).
     */
    private void endSessionsOfRetiredRoots() {
        synchronized (reloadLock) {
            java.util.Set<String> now = new java.util.HashSet<>();
            currentBundle().roots().forEach(r -> now.add(r.sha256()));
            if (sessionRoots != null && !now.containsAll(sessionRoots)) {
                try {
                    current = current.withFreshSessions();
                    log.info("trust roots left the bundle: TLS sessions made before are no longer resumed");
                } catch (TlsMaterialException e) {
                    log.warn("TLS contexts not renewed after roots left the bundle: {}", e.getMessage());
                    return;
                }
            }
            sessionRoots = now;
        }
    }

    private TrustBundle compose(TrustBundle file) {
        FederatedRoots f = federation;
        if (f == null) {
            rebuildAt = null;
            return file;
        }
        rebuildAt = f.nextRetirement().orElse(null);
        try {
            return f.union(file);
        } catch (TrustBundleException e) {
            log.warn("federated trust bundle not rebuilt, keeping the previous one: {}", e.getMessage());
            return effective != null ? effective : file;
        }
    }

    private void publishRootCounts() {
        java.util.Map<String, Integer> counts = new java.util.LinkedHashMap<>();
        counts.put("file", current.bundle().roots().size());
        FederatedRoots f = federation;
        if (f != null) {
            f.roots().forEach(r -> counts.merge(r.source(), 1, Integer::sum));
        }
        List<MultiGauge.Row<?>> rows = new ArrayList<>();
        counts.forEach((source, n) -> rows.add(MultiGauge.Row.of(Tags.of("source", source), n)));
        trustRoots.register(rows, true);
    }

    /** Starts following file changes on a daemon thread; idempotent. */
    public synchronized void start() throws IOException {
        if (thread != null || closed) {
            return;
        }
        watcher = FileSystems.getDefault().newWatchService();
        Set<Path> dirs = new LinkedHashSet<>();
        for (Path file : files.all()) {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                dirs.add(parent);
            }
        }
        for (Path dir : dirs) {
            dir.register(watcher, StandardWatchEventKinds.ENTRY_CREATE, StandardWatchEventKinds.ENTRY_MODIFY,
                    StandardWatchEventKinds.ENTRY_DELETE);
        }
        thread = new Thread(this::follow, "meshgate-tls-reload");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Reloads now if the files' contents differ from the last attempt (also the hook for a
     * SIGHUP). Returns what happened.
     */
    public ReloadResult reload() {
        synchronized (reloadLock) {
            String hash = contentHash();
            if (hash.equals(attemptedHash)) {
                return ReloadResult.UNCHANGED;
            }
            attemptedHash = hash;
            try {
                TlsMaterial next = TlsMaterial.load(files, allowedTrustDomains, allowedIdentities, this::currentBundle, Instant.now(), true);
                rebuild.lock();
                try {
                    current = next;
                    effective = compose(next.bundle());
                } finally {
                    rebuild.unlock();
                }
                publishRootCounts();
                sessionRoots = null; // new contexts: no session of the old ones resumes
                endSessionsOfRetiredRoots();
                lastFailure = null;
                publishExpiry(next);
                reloadOk.increment();
                log.info("TLS material reloaded: serving {} (expires {}), trust roots {}", next.servingId(),
                        next.leaf().getNotAfter().toInstant(),
                        next.bundle().roots().stream().map(TrustRoot::sha256).toList());
                return ReloadResult.OK;
            } catch (TlsMaterialException | RuntimeException e) {
                lastFailure = e.getMessage();
                reloadFailed.increment();
                log.warn("TLS material reload refused, keeping the previous material: {}", e.getMessage());
                return ReloadResult.FAILED;
            }
        }
    }

    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            closed = true;
            t = thread;
            if (watcher != null) {
                try {
                    watcher.close();
                } catch (IOException e) {
                    log.debug("closing the TLS file watcher", e);
                }
            }
        }
        if (t != null) {
            t.interrupt();
            try {
                t.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private TrustBundle currentBundle() {
        Instant due = rebuildAt;
        // A federated root's grace ended: rebuild, unless another thread is at it (never wait on an event loop).
        if (due != null && !Instant.now().isBefore(due) && rebuild.tryLock()) {
            try {
                effective = compose(current.bundle());
            } finally {
                rebuild.unlock();
            }
            publishRootCounts();
        }
        TrustBundle e = effective;
        return e != null ? e : current.bundle();
    }

    private void follow() {
        try {
            while (!closed) {
                WatchKey key = watcher.poll(pollInterval.toMillis(), TimeUnit.MILLISECONDS);
                // Drain the burst of events a write or a ..data swap makes, until it has been quiet for `debounce`.
                while (key != null) {
                    key.pollEvents();
                    key.reset();
                    key = watcher.poll(debounce.toMillis(), TimeUnit.MILLISECONDS);
                }
                String hash = contentHash();
                synchronized (reloadLock) {
                    if (hash.equals(attemptedHash)) {
                        continue;
                    }
                }
                // Found by the hash poll: let a writer finish before loading.
                Thread.sleep(debounce.toMillis());
                if (contentHash().equals(hash)) {
                    reload();
                }
            }
        } catch (ClosedWatchServiceException | InterruptedException e) {
            // closed
        } catch (RuntimeException e) {
            log.error("TLS reload thread stopped; rotation is off until restart", e);
        }
    }

    /** SHA-256 over the three files' bytes (symlinks followed); unreadable files hash as their error. */
    private String contentHash() {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (Path file : files.all()) {
            try {
                digest.update(Files.readAllBytes(file));
            } catch (IOException e) {
                digest.update(("unreadable " + e).getBytes(java.nio.charset.StandardCharsets.UTF_8));
            }
            digest.update((byte) 0);
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    private void publishExpiry(TlsMaterial material) {
        List<MultiGauge.Row<?>> rows = new ArrayList<>();
        Instant servingNotAfter = material.leaf().getNotAfter().toInstant();
        rows.add(MultiGauge.Row.of(Tags.of("certificate", "serving"), () -> secondsUntil(servingNotAfter)));
        for (TrustRoot root : material.bundle().roots()) {
            rows.add(MultiGauge.Row.of(Tags.of("certificate", root.sha256()), () -> secondsUntil(root.notAfter())));
        }
        expiry.register(rows, true);
    }

    private static long secondsUntil(Instant instant) {
        return Duration.between(Instant.now(), instant).toSeconds();
    }
}
