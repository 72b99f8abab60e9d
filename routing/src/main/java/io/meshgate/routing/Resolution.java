package io.meshgate.routing;

/** The answer to "where does this routing name go": endpoints, or the reason it goes nowhere. */
public sealed interface Resolution {

    /** Routable: the endpoints traffic may use now. */
    record Routed(EndpointSet endpoints) implements Resolution {}

    /** Not routable, with the {@code /debug/resolve} code. */
    record Refused(RouteError error) implements Resolution {}

    static Resolution refused(RouteError error) {
        return new Refused(error);
    }

    default boolean isRouted() {
        return this instanceof Routed;
    }
}
