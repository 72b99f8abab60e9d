package io.meshgate.routing;

import java.util.List;
import java.util.Optional;

/**
 * Answers "where may a connection with this SNI go now" from the latest snapshot of every
 * source. Lock-free: one volatile read for the source list, one per source for its table.
 * Sources can be added and removed at runtime (remote clusters) without touching the data path.
 */
public final class Router {

    private volatile List<RouteSource> sources;

    public Router(List<? extends RouteSource> sources) {
        this.sources = List.copyOf(sources);
    }

    public List<RouteSource> sources() {
        return sources;
    }

    public synchronized void addSource(RouteSource source) {
        List<RouteSource> next = new java.util.ArrayList<>(sources);
        next.add(source);
        sources = List.copyOf(next);
    }

    public synchronized void removeSource(RouteSource source) {
        List<RouteSource> next = new java.util.ArrayList<>(sources);
        next.remove(source);
        sources = List.copyOf(next);
    }

    /** True when every source has a complete view. */
    public boolean synced() {
        for (RouteSource s : sources) {
            if (!s.synced()) {
                return false;
            }
        }
        return true;
    }

    /** Resolves a raw server name; {@link RouteError#BAD_SNI} when it is not a routing name. */
    public Resolution resolve(String sni) {
        Optional<OutboundSni> parsed = OutboundSni.parse(sni);
        return parsed.isPresent() ? resolve(parsed.get()) : Resolution.refused(RouteError.BAD_SNI);
    }

    /**
     * The first source that routes the name wins; when none does, the most specific refusal
     * (a source that knows the service but has no healthy endpoints says more than one that
     * has never heard of it).
     */
    public Resolution resolve(OutboundSni sni) {
        Resolution best = Resolution.refused(RouteError.NO_SUCH_SERVICE);
        for (RouteSource source : sources) {
            Resolution r = source.current().resolve(sni.host(), sni.port());
            if (r instanceof Resolution.Routed) {
                // Subsets (DestinationRule) are not modelled: a named subset cannot be resolved.
                return sni.subset().isEmpty() ? r : Resolution.refused(RouteError.NO_SUCH_SUBSET);
            }
            if (((Resolution.Refused) r).error().specificity() > ((Resolution.Refused) best).error().specificity()) {
                best = r;
            }
        }
        return best;
    }
}
