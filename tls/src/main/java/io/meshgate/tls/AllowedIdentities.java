package io.meshgate.tls;

import java.util.Collection;
import java.util.List;

/**
 * The SPIFFE IDs a terminate listener accepts as callers ({@code tls.allowedIdentities}): each
 * entry is an exact SPIFFE ID or a prefix ending in {@code *}, like Istio's AuthorizationPolicy
 * {@code principals} ({@code spiffe://cluster.local/ns/default/*}). Empty allows any identity the
 * trust-domain rule lets through. Immutable.
 */
public final class AllowedIdentities {

    /** No identity policy: every caller whose chain and trust domain pass is accepted. */
    public static final AllowedIdentities ANY = new AllowedIdentities(List.of());

    private static final String SCHEME = "spiffe://";

    private final List<String> entries;

    private AllowedIdentities(List<String> entries) {
        this.entries = entries;
    }

    /** The policy of {@code entries}; an invalid entry fails with {@link #problem(String)}'s words. */
    public static AllowedIdentities of(Collection<String> entries) {
        for (String e : entries) {
            String problem = problem(e);
            if (problem != null) {
                throw new IllegalArgumentException("'" + e + "': " + problem);
            }
        }
        return entries.isEmpty() ? ANY : new AllowedIdentities(List.copyOf(entries));
    }

    /**
     * What is wrong with {@code entry}, or null: an exact entry must be a valid SPIFFE ID; a prefix
     * has its {@code *} last, and names a whole trust domain followed by {@code /} (so that
     * {@code spiffe://cluster.local*} cannot also admit {@code spiffe://cluster.localhost/...}).
     */
    public static String problem(String entry) {
        if (entry == null || entry.isEmpty()) {
            return "empty; give a SPIFFE ID or a prefix ending in '*'";
        }
        if (!entry.startsWith(SCHEME)) {
            return "must start with " + SCHEME;
        }
        int star = entry.indexOf('*');
        if (star >= 0 && star != entry.length() - 1) {
            return "'*' is allowed only at the end (a prefix)";
        }
        String id = star < 0 ? entry : entry.substring(0, star);
        if (star >= 0) {
            int slash = id.indexOf('/', SCHEME.length());
            if (slash < 0) {
                return "a prefix must name a whole trust domain followed by '/', e.g. spiffe://cluster.local/ns/default/*";
            }
            if (id.endsWith("/")) {
                id = id.substring(0, id.length() - 1);
            }
        }
        try {
            SpiffeId.parse(id);
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    public boolean isEmpty() {
        return entries.isEmpty();
    }

    /** The entries as configured. */
    public List<String> entries() {
        return entries;
    }

    /** True when the policy is empty or an entry matches {@code id} exactly or as a prefix. */
    public boolean allows(SpiffeId id) {
        if (entries.isEmpty()) {
            return true;
        }
        String uri = id.toString();
        for (String e : entries) {
            if (e.endsWith("*") ? uri.startsWith(e.substring(0, e.length() - 1)) : uri.equals(e)) {
                return true;
            }
        }
        return false;
    }

    /** The trust domain an entry names, e.g. {@code cluster.local}. */
    public static String trustDomainOf(String entry) {
        String rest = entry.substring(SCHEME.length());
        int end = rest.length();
        for (int i = 0; i < rest.length(); i++) {
            char c = rest.charAt(i);
            if (c == '/' || c == '*') {
                end = i;
                break;
            }
        }
        return rest.substring(0, end);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AllowedIdentities other && other.entries.equals(entries);
    }

    @Override
    public int hashCode() {
        return entries.hashCode();
    }

    @Override
    public String toString() {
        return entries.toString();
    }
}
