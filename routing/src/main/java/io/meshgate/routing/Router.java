package io.meshgate.routing;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * Answers "where may a connection with this SNI go now" from the latest snapshot of every
 * source. Lock-free: one volatile read for the source list, one per source for its table.
 * Sources can be added and removed at runtime (remote clusters) without touching the data path.
 *
 * <p>Two questions, kept apart because that is what prevents loops: {@link #resolve} answers
 * east-west traffic (arriving from other clusters) from <em>local</em> sources only;
 * {@link #resolveEgress} answers callers inside this cluster and may send them to another
 * cluster's east-west gateway, which in turn only routes locally.
 */
public final class Router {

    /** How an egress listener chooses between local endpoints and remote clusters. */
    public enum EgressPolicy {
        /** Local endpoints when there are healthy ones, else the remote cluster with the most. */
        LOCAL_FIRST,
        /** Clusters (local included) chosen at random, weighted by their healthy endpoint counts. */
        SPREAD
    }

    private volatile List<RouteSource> sources;

    public Router(List<? extends RouteSource> sources) {
        this.sources = List.copyOf(sources);
    }

    public List<RouteSource> sources() {
        return sources;
    }

    /** The remote clusters known now. */
    public List<RemoteCluster> remotes() {
        List<RemoteCluster> remotes = new ArrayList<>();
        for (RouteSource s : sources) {
            if (s instanceof RemoteCluster r) {
                remotes.add(r);
            }
        }
        return remotes;
    }

    public synchronized void addSource(RouteSource source) {
        List<RouteSource> next = new ArrayList<>(sources);
        next.add(source);
        sources = List.copyOf(next);
    }

    public synchronized void removeSource(RouteSource source) {
        List<RouteSource> next = new ArrayList<>(sources);
        next.remove(source);
        sources = List.copyOf(next);
    }

    /** True when every local source has a complete view; remote clusters never hold readiness back. */
    public boolean synced() {
        for (RouteSource s : sources) {
            if (s.local() && !s.synced()) {
                return false;
            }
        }
        return true;
    }

    /** Resolves a raw server name; {@link RouteError#BAD_SNI} when it is not a routing name. */
    public Resolution resolve(String sni) {
        return resolve(OutboundSni.parse(sni));
    }

    /** Resolves a server name parsed already (empty: not a routing name, {@link RouteError#BAD_SNI}). */
    public Resolution resolve(Optional<OutboundSni> parsed) {
        return parsed.isPresent() ? resolve(parsed.get()) : Resolution.refused(RouteError.BAD_SNI);
    }

    /**
     * Local endpoints only (east-west traffic). The first local source that routes the name wins;
     * when none does, the most specific refusal (a source that knows the service but has no
     * healthy endpoints says more than one that has never heard of it).
     */
    public Resolution resolve(OutboundSni sni) {
        Resolution best = Resolution.refused(RouteError.NO_SUCH_SERVICE);
        for (RouteSource source : sources) {
            if (!source.local()) {
                continue;
            }
            Resolution r = source.current().resolve(sni.host(), sni.port());
            if (r instanceof Resolution.Routed routed) {
                // Subsets (DestinationRule) are not modelled: a named subset cannot be resolved.
                return sni.subset().isEmpty() ? new Resolution.Routed(routed.endpoints(), source.name())
                        : Resolution.refused(RouteError.NO_SUCH_SUBSET);
            }
            best = moreSpecific(best, r);
        }
        return best;
    }

    /** The remote clusters with healthy endpoints for {@code sni} and a known gateway, most endpoints first. */
    public List<Resolution.RemoteGateway> remoteGateways(OutboundSni sni) {
        List<Resolution.RemoteGateway> gateways = new ArrayList<>();
        if (!sni.subset().isEmpty()) {
            return gateways;
        }
        for (RemoteCluster remote : remotes()) {
            if (remote.current().resolve(sni.host(), sni.port()) instanceof Resolution.Routed routed) {
                Optional<Endpoint> gateway = remote.gateway();
                gateway.ifPresent(g -> gateways.add(new Resolution.RemoteGateway(remote.name(), g, routed.endpoints().size())));
            }
        }
        gateways.sort(Comparator.comparingInt(Resolution.RemoteGateway::healthyEndpoints).reversed()
                .thenComparing(Resolution.RemoteGateway::cluster));
        return gateways;
    }

    /**
     * For callers inside this cluster: local endpoints, or other clusters' east-west gateways
     * (SNI unchanged) when the policy says so or the local cluster has no healthy endpoint.
     */
    public Resolution resolveEgress(OutboundSni sni, EgressPolicy policy, RandomGenerator random) {
        Resolution local = resolve(sni);
        List<Resolution.RemoteGateway> remote = remoteGateways(sni);
        if (remote.isEmpty()) {
            return local;
        }
        if (!(local instanceof Resolution.Routed routed)) {
            return new Resolution.ViaGateways(remote);
        }
        if (policy == EgressPolicy.LOCAL_FIRST) {
            return local;
        }
        int total = routed.endpoints().size();
        for (Resolution.RemoteGateway g : remote) {
            total += g.healthyEndpoints();
        }
        int pick = random.nextInt(total);
        if (pick < routed.endpoints().size()) {
            return local;
        }
        pick -= routed.endpoints().size();
        for (int i = 0; i < remote.size(); i++) {
            pick -= remote.get(i).healthyEndpoints();
            if (pick < 0) {
                // The chosen cluster first; the others stay as fallbacks if its gateway does not answer.
                List<Resolution.RemoteGateway> ordered = new ArrayList<>(remote);
                ordered.add(0, ordered.remove(i));
                return new Resolution.ViaGateways(ordered);
            }
        }
        return local;
    }

    private static Resolution moreSpecific(Resolution best, Resolution candidate) {
        return ((Resolution.Refused) candidate).error().specificity() > ((Resolution.Refused) best).error().specificity()
                ? candidate : best;
    }
}
