package io.meshgate.tls;

import java.util.List;

/**
 * What {@code GET /debug/trust} shows, as plain records the admin server renders to JSON;
 * timestamps are ISO-8601 strings so no JSON time module is needed.
 */
public record TrustView(List<Root> roots, Serving serving, String bundleLoadedAt) {

    /** One root of the bundle; {@code source} is {@code file} ({@code tls.trustBundle}) or {@code cluster:<name>}. */
    public record Root(String subject, String sha256, String notAfter, String source) {}

    /** The gateway's own certificate. */
    public record Serving(String spiffeId, String subject, String sha256, String notAfter) {}

    public static TrustView of(TlsMaterial material) {
        List<Root> roots = material.bundle().roots().stream()
                .map(r -> new Root(r.subject(), r.sha256(), r.notAfter().toString(), "file"))
                .toList();
        return of(material, roots, material.bundle().loadedAt());
    }

    /** The view with {@code roots} (each with its source) as the bundle, built at {@code bundleLoadedAt}. */
    public static TrustView of(TlsMaterial material, List<Root> roots, java.time.Instant bundleLoadedAt) {
        PeerIdentity self;
        try {
            self = PeerIdentity.of(material.leaf());
        } catch (PeerRefusedException e) {
            throw new IllegalStateException("material was loaded with a SPIFFE ID", e);
        }
        return new TrustView(roots, new Serving(self.spiffeId().toString(), self.subject(), self.sha256(),
                material.leaf().getNotAfter().toInstant().toString()), bundleLoadedAt.toString());
    }
}
