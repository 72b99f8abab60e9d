package io.meshgate.gateway.upstream;

import io.meshgate.gateway.config.GatewaySpec.BalancingPolicy;
import io.meshgate.routing.Endpoint;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Chooses the endpoint a new connection tries first: round-robin, or the power of two random
 * choices by active connections (the better default: it avoids herding on one endpoint without
 * global coordination). Retries walk the set from there.
 */
public final class EndpointPicker {

    private final BalancingPolicy policy;
    private final ConcurrentHashMap<Endpoint, AtomicInteger> active = new ConcurrentHashMap<>();
    private final AtomicInteger roundRobin = new AtomicInteger();

    public EndpointPicker(BalancingPolicy policy) {
        this.policy = policy;
    }

    /** Index of the endpoint to try first (the route stage asks once per connection, HTTP request or h2 stream). */
    int first(List<Endpoint> set) {
        int n = set.size();
        if (n == 1) {
            return 0;
        }
        if (policy == BalancingPolicy.ROUND_ROBIN) {
            return Math.floorMod(roundRobin.getAndIncrement(), n);
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int a = random.nextInt(n);
        int b = random.nextInt(n - 1);
        if (b >= a) {
            b++;
        }
        return activeConnections(set.get(a)) <= activeConnections(set.get(b)) ? a : b;
    }

    /** Active upstream connections to {@code endpoint} through this gateway. */
    public int activeConnections(Endpoint endpoint) {
        AtomicInteger c = active.get(endpoint);
        return c == null ? 0 : c.get();
    }

    public void connected(Endpoint endpoint) {
        active.computeIfAbsent(endpoint, e -> new AtomicInteger()).incrementAndGet();
    }

    public void disconnected(Endpoint endpoint) {
        // Drop the entry at zero so endpoints that went away do not accumulate.
        active.computeIfPresent(endpoint, (e, c) -> c.decrementAndGet() <= 0 ? null : c);
    }
}
