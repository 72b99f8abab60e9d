package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether one cluster's API server can be read, for operators: one log line per change of state
 * (reachable → unreachable → reachable, permission missing → granted), never one per retry, and
 * the metrics {@code meshgate_cluster_up}, {@code meshgate_cluster_sync_errors_total} and
 * {@code meshgate_cluster_permission_missing}. The informers retry on their own with backoff;
 * this class only watches what their failures mean.
 */
final class ClusterHealth implements AutoCloseable {

    /** Why a list or watch failed; the {@code reason} label of the error counter. */
    enum Reason {
        /** 403: the gateway's identity lacks a verb on a resource (RBAC). */
        FORBIDDEN("forbidden"),
        /** 401: the credentials were rejected (expired token, wrong certificate). */
        UNAUTHORIZED("unauthorized"),
        /** No answer: connection refused or reset, timeout, TLS failure. */
        UNREACHABLE("unreachable"),
        /** Any other answer (5xx, 429, …). */
        ERROR("error");

        final String label;

        Reason(String label) {
            this.label = label;
        }
    }

    /** A failure classified: reason, and for {@link Reason#FORBIDDEN} the denied verb and resource. */
    record Failure(Reason reason, String verb, String resource, String detail) {
    }

    private static final Logger log = LoggerFactory.getLogger(ClusterHealth.class);
    /** The API server's RBAC refusal: {@code ... cannot watch resource "endpointslices" in API group "discovery.k8s.io" ...}. */
    private static final Pattern DENIED = Pattern.compile("cannot (\\S+) resource \"([^\"]+)\"(?: in API group \"([^\"]*)\")?");

    private final String cluster;
    private final String apiServer;
    private final MeterRegistry registry;
    private final List<Meter> meters = new ArrayList<>();
    private final Map<Reason, Counter> errors = new ConcurrentHashMap<>();
    /** Denied verb/resource pairs still denied, each logged once when first seen. */
    private final Map<String, Meter> missing = new ConcurrentHashMap<>();
    private volatile boolean up;
    /** The reason of the current outage (null while up or before the first contact). */
    private Reason down;

    ClusterHealth(String cluster, String apiServer, MeterRegistry registry) {
        this.cluster = cluster;
        this.apiServer = apiServer;
        this.registry = registry;
        meters.add(Gauge.builder("meshgate.cluster.up", this, h -> h.up ? 1 : 0)
                .description("1 while every watch on the cluster's API server is established").tag("cluster", cluster)
                .register(registry));
    }

    /**
     * A list or watch of {@code resource} (plural, e.g. {@code endpointslices}) failed; the informer
     * retries. {@code verb} is the request that most likely failed ({@code list} before the first
     * sync, {@code watch} after), for when the API server's answer does not name it (a refused watch).
     */
    synchronized void failed(String resource, String verb, Throwable t) {
        Failure f = classify(resource, verb, t);
        errors.computeIfAbsent(f.reason(), r -> {
            Counter c = Counter.builder("meshgate.cluster.sync.errors")
                    .description("Failed lists and watches of the cluster's API server, by reason")
                    .tag("cluster", cluster).tag("reason", r.label).register(registry);
            meters.add(c);
            return c;
        }).increment();
        up = false;
        if (f.reason() == Reason.FORBIDDEN) {
            String key = f.verb() + " " + f.resource();
            if (!missing.containsKey(key)) {
                missing.put(key, Gauge.builder("meshgate.cluster.permission.missing", () -> 1)
                        .description("1 while the API server denies the gateway this verb on this resource")
                        .tags("cluster", cluster, "resource", f.resource(), "verb", f.verb()).register(registry));
                log.warn("cluster {}: permission missing: the API server {} denies verb \"{}\" on resource \"{}\" "
                                + "to this gateway (HTTP 403); grant it (see the meshgate-discovery ClusterRole). "
                                + "Serving the last known routes, retrying with backoff",
                        cluster, apiServer, f.verb(), f.resource());
            }
            return;
        }
        if (down != f.reason()) {
            down = f.reason();
            log.warn("cluster {}: API server {} {} ({}); serving the last known routes, retrying with backoff",
                    cluster, apiServer, switch (f.reason()) {
                        case UNREACHABLE -> "unreachable";
                        case UNAUTHORIZED -> "rejects the gateway's credentials (HTTP 401)";
                        default -> "fails";
                    }, f.detail());
        }
    }

    /** An established watch of {@code resource} closed; fabric8 re-establishes it with backoff. */
    synchronized void watchBroken(String resource) {
        up = false;
        if (down == null) {
            down = Reason.UNREACHABLE;
            log.warn("cluster {}: the watch of {} on API server {} broke; serving the last known routes while reconnecting",
                    cluster, resource, apiServer);
        }
    }

    /** Every watch is established again (or for the first time). */
    synchronized void watching() {
        if (up) {
            return;
        }
        up = true;
        if (down != null) {
            log.info("cluster {}: API server {} reachable again", cluster, apiServer);
            down = null;
        }
        missing.forEach((key, gauge) -> {
            registry.remove(gauge);
            log.info("cluster {}: permission granted now: {}", cluster, key.replace(" ", " on "));
        });
        missing.clear();
    }

    boolean up() {
        return up;
    }

    static Failure classify(String resource, String verb, Throwable t) {
        Throwable e = t;
        while ((e instanceof CompletionException || e instanceof ExecutionException) && e.getCause() != null) {
            e = e.getCause();
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof KubernetesClientException k && k.getCode() > 0) {
                int code = k.getCode();
                String message = k.getStatus() != null && k.getStatus().getMessage() != null
                        ? k.getStatus().getMessage() : String.valueOf(k.getMessage());
                if (code == 403) {
                    Matcher m = DENIED.matcher(message);
                    if (m.find()) {
                        String group = m.group(3) == null || m.group(3).isEmpty() ? "" : "." + m.group(3);
                        return new Failure(Reason.FORBIDDEN, m.group(1), m.group(2) + group, message);
                    }
                    return new Failure(Reason.FORBIDDEN, verb, resource, message);
                }
                return new Failure(code == 401 ? Reason.UNAUTHORIZED : Reason.ERROR, null, resource, "HTTP " + code + ": " + message);
            }
        }
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof IOException || c instanceof TimeoutException) {
                return new Failure(Reason.UNREACHABLE, null, resource, c.getClass().getSimpleName()
                        + (c.getMessage() == null ? "" : ": " + c.getMessage()));
            }
        }
        return new Failure(Reason.ERROR, null, resource, String.valueOf(e));
    }

    @Override
    public synchronized void close() {
        meters.forEach(registry::remove);
        missing.values().forEach(registry::remove);
        missing.clear();
    }
}
