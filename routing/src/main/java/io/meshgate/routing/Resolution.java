package io.meshgate.routing;

/** The answer to "where does this routing name go": endpoints, or the reason it goes nowhere. */
public sealed interface Resolution {

    /** Routable: the endpoints traffic may use now, and the source (cluster) they come from. */
    record Routed(EndpointSet endpoints, String source) implements Resolution {
        public Routed(EndpointSet endpoints) {
            this(endpoints, "");
        }
    }

    /**
     * Routable only through other clusters: their east-west gateways, in the order to try them
     * (egress listeners only; the SNI is passed on unchanged).
     */
    record ViaGateways(java.util.List<RemoteGateway> gateways) implements Resolution {
        public ViaGateways {
            gateways = java.util.List.copyOf(gateways);
        }
    }

    /** One remote cluster that has healthy endpoints for a service, reached through its gateway. */
    record RemoteGateway(String cluster, Endpoint gateway, int healthyEndpoints) {}

    /** Not routable, with the {@code /debug/resolve} code. */
    record Refused(RouteError error) implements Resolution {}

    /** The refusal for {@code error}: one shared instance per error, so refusing allocates nothing. */
    static Resolution refused(RouteError error) {
        return RefusedByError.ALL[error.ordinal()];
    }

    /** Holds the shared refusals (interfaces cannot have private static fields initialised lazily). */
    final class RefusedByError {
        private static final Refused[] ALL = java.util.Arrays.stream(RouteError.values())
                .map(Refused::new).toArray(Refused[]::new);

        private RefusedByError() {}
    }

    default boolean isRouted() {
        return this instanceof Routed;
    }
}
