package io.meshgate.gateway.admin;

import io.meshgate.routing.Router;
import java.util.Optional;

/** What the admin server may see of the running gateway: readiness, routes, metrics and trust. */
public interface AdminView {

    /** {@code /readyz}: every listener bound, every route source synced, not draining. */
    boolean ready();

    /** Whether a drain has begun ({@code /readyz} says why it is 503). */
    boolean draining();

    /** {@code /debug/resolve} and {@code /debug/routes}. */
    Router router();

    /** {@code /metrics}: the Prometheus text. */
    String scrape();

    /** {@code /debug/trust}; empty when no TLS is configured. */
    Optional<Object> trustView();

    /** {@code /debug/trust?format=spiffe}: the trust bundle as a SPIFFE bundle (JWK set); empty without TLS. */
    Optional<Object> spiffeBundle();
}
