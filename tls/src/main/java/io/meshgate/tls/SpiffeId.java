package io.meshgate.tls;

import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * A SPIFFE ID ({@code spiffe://<trust-domain>/<path>}), the workload identity meshgate
 * authorizes by, validated by the SPIFFE ID specification's rules.
 *
 * @param trustDomain lowercase trust domain name, e.g. {@code cluster.local}
 * @param path empty (the trust domain's own ID) or {@code /seg/seg...}
 */
public record SpiffeId(String trustDomain, String path) {

    private static final String SCHEME = "spiffe://";
    private static final int MAX_LENGTH = 2048;
    private static final int MAX_TRUST_DOMAIN_LENGTH = 255;
    /** GeneralName tag of a URI in {@link X509Certificate#getSubjectAlternativeNames()}. */
    private static final int URI_SAN = 6;

    public SpiffeId {
        String problem = trustDomainProblem(trustDomain);
        if (problem == null) {
            problem = pathProblem(path);
        }
        if (problem != null) {
            throw new IllegalArgumentException("invalid SPIFFE ID " + SCHEME + trustDomain + path + ": " + problem);
        }
    }

    /** Parses and validates; the exception message says which rule is broken. */
    public static SpiffeId parse(String uri) {
        if (uri == null || uri.isEmpty()) {
            throw new IllegalArgumentException("invalid SPIFFE ID: empty");
        }
        if (uri.length() > MAX_LENGTH) {
            throw new IllegalArgumentException("invalid SPIFFE ID: longer than " + MAX_LENGTH + " bytes");
        }
        if (!uri.startsWith(SCHEME)) {
            throw new IllegalArgumentException("invalid SPIFFE ID " + uri + ": must start with " + SCHEME);
        }
        String rest = uri.substring(SCHEME.length());
        int slash = rest.indexOf('/');
        String trustDomain = slash < 0 ? rest : rest.substring(0, slash);
        String path = slash < 0 ? "" : rest.substring(slash);
        return new SpiffeId(trustDomain, path);
    }

    /**
     * The one SPIFFE ID in a certificate's URI SANs (X509-SVID); none, several or a malformed
     * one refuse the peer.
     */
    public static SpiffeId of(X509Certificate certificate) throws PeerRefusedException {
        List<String> uris = new ArrayList<>();
        try {
            Collection<List<?>> sans = certificate.getSubjectAlternativeNames();
            if (sans != null) {
                for (List<?> san : sans) {
                    if (((Integer) san.get(0)) == URI_SAN && san.get(1) instanceof String uri
                            && uri.regionMatches(true, 0, SCHEME, 0, SCHEME.length())) {
                        uris.add(uri);
                    }
                }
            }
        } catch (CertificateParsingException e) {
            throw new PeerRefusedException(PeerRefusedException.Reason.MALFORMED_SPIFFE_ID,
                    "subjectAltName cannot be parsed: " + e.getMessage(), e);
        }
        String subject = certificate.getSubjectX500Principal().getName();
        if (uris.isEmpty()) {
            throw new PeerRefusedException(PeerRefusedException.Reason.NO_SPIFFE_ID,
                    "certificate '" + subject + "' has no spiffe:// URI SAN");
        }
        if (uris.size() > 1) {
            throw new PeerRefusedException(PeerRefusedException.Reason.MULTIPLE_SPIFFE_IDS,
                    "certificate '" + subject + "' has " + uris.size() + " spiffe:// URI SANs " + uris + "; exactly one is allowed");
        }
        try {
            return parse(uris.get(0));
        } catch (IllegalArgumentException e) {
            throw new PeerRefusedException(PeerRefusedException.Reason.MALFORMED_SPIFFE_ID, e.getMessage(), e);
        }
    }

    /** The trust domain's own ID, {@code spiffe://<trust-domain>}. */
    public static SpiffeId ofTrustDomain(String trustDomain) {
        return new SpiffeId(trustDomain, "");
    }

    /** What is wrong with a trust domain name, or null when it is valid (also used for config keys). */
    public static String trustDomainProblem(String trustDomain) {
        if (trustDomain == null || trustDomain.isEmpty()) {
            return "trust domain is empty";
        }
        if (trustDomain.length() > MAX_TRUST_DOMAIN_LENGTH) {
            return "trust domain is longer than " + MAX_TRUST_DOMAIN_LENGTH + " characters";
        }
        for (int i = 0; i < trustDomain.length(); i++) {
            char c = trustDomain.charAt(i);
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) {
                return switch (c) {
                    case ':' -> "trust domain must not carry a port";
                    case '@' -> "trust domain must not carry userinfo";
                    case '?' -> "a SPIFFE ID must not have a query";
                    case '#' -> "a SPIFFE ID must not have a fragment";
                    default -> c >= 'A' && c <= 'Z'
                            ? "trust domain must be lowercase"
                            : "trust domain contains '" + c + "'; allowed: a-z 0-9 . - _";
                };
            }
        }
        return null;
    }

    private static String pathProblem(String path) {
        if (path == null || path.isEmpty()) {
            return null;
        }
        if (path.charAt(0) != '/') {
            return "path must start with /";
        }
        int start = 1;
        while (true) {
            int end = path.indexOf('/', start);
            String segment = end < 0 ? path.substring(start) : path.substring(start, end);
            if (segment.isEmpty()) {
                return end < 0 ? "path must not end with /" : "path has an empty segment (//)";
            }
            if (segment.equals(".") || segment.equals("..")) {
                return "path segment '" + segment + "' is not allowed";
            }
            for (int i = 0; i < segment.length(); i++) {
                char c = segment.charAt(i);
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                        || c == '.' || c == '-' || c == '_')) {
                    return switch (c) {
                        case '?' -> "a SPIFFE ID must not have a query";
                        case '#' -> "a SPIFFE ID must not have a fragment";
                        default -> "path contains '" + c + "'; allowed: a-z A-Z 0-9 . - _";
                    };
                }
            }
            if (end < 0) {
                return null;
            }
            start = end + 1;
        }
    }

    @Override
    public String toString() {
        return SCHEME + trustDomain + path;
    }
}
