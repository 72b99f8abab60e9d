package io.meshgate.gateway.testing;

import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The callers of the trust-rotation tests: the mesh PKI, a third cluster C whose root joins (and
 * leaves) while the gateway runs, a caller of cluster A whose root never leaves and a newcomer
 * of C. A call is one fresh connection (a full handshake) and one request; a {@link Load} makes
 * them back to back and records every failure.
 */
public final class RotationCallers {

    public final MeshPki pki = new MeshPki();
    public final ClusterCa clusterC;
    public final IssuedIdentity callerA;
    public final IssuedIdentity callerC;

    public RotationCallers() throws Exception {
        clusterC = ClusterCa.create("cluster-c", "cluster.local", Instant.now());
        callerA = MeshPki.issue(pki.clusterA, "spiffe://cluster.local/ns/default/sa/local-caller");
        callerC = MeshPki.issue(clusterC, "spiffe://cluster.local/ns/default/sa/newcomer");
    }

    /** A sidecar presenting {@code identity} that trusts the gateway's cluster A. */
    public MtlsClient caller(IssuedIdentity identity) {
        return new MtlsClient(MeshPki.client(identity, pki.clusterA.rootCert()));
    }

    /** One fresh connection and one request; true if answered 200. */
    public static boolean call(MtlsClient client, RunningGateway gw) {
        try (MtlsClient.Session s = client.connect(gw.address(), TlsPeers.SNI)) {
            return s.send(MtlsClient.get("/")).response().status() == 200;
        } catch (Exception refused) {
            return false;
        }
    }

    /** Calls of {@code client} back to back, for at most {@code maxTime} and {@code maxCalls}, until stopped. */
    public static Load load(MtlsClient client, RunningGateway gw, Duration maxTime, int maxCalls) {
        return new Load(client, gw, maxTime, maxCalls);
    }

    /** A running series of calls; {@link #stop} ends it. */
    public static final class Load {
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicInteger ok = new AtomicInteger();
        private final ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        private final CompletableFuture<Void> done;

        private Load(MtlsClient client, RunningGateway gw, Duration maxTime, int maxCalls) {
            done = CompletableFuture.runAsync(() -> {
                long deadline = System.nanoTime() + maxTime.toNanos();
                for (int i = 0; !stop.get() && i < maxCalls && System.nanoTime() < deadline; i++) {
                    if (call(client, gw)) {
                        ok.incrementAndGet();
                    } else {
                        failures.add("call " + i);
                    }
                }
            });
        }

        /** Calls answered 200 so far. */
        public int ok() {
            return ok.get();
        }

        /** Stops, waits up to {@code wait} for the call under way, and returns the failed calls. */
        public List<String> stop(Duration wait) throws Exception {
            stop.set(true);
            done.get(wait.toMillis(), TimeUnit.MILLISECONDS);
            return List.copyOf(failures);
        }
    }
}
