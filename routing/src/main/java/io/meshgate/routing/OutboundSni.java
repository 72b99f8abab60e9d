package io.meshgate.routing;

import java.util.Locale;
import java.util.Optional;

/**
 * The routing name a sidecar puts in the SNI, {@code outbound_.<port>_.<subset>_.<host>} (Istio's
 * AUTO_PASSTHROUGH naming): it selects the Service {@code host} and its <em>Service port</em>.
 *
 * <p>The host is kept lower-cased because host matching ignores case; the subset is kept as sent
 * ({@code ""} when the name carries {@code _}).
 */
public record OutboundSni(int port, String subset, String host) {

    private static final String PREFIX = "outbound_.";

    public OutboundSni {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
        if (host == null || host.isEmpty()) {
            throw new IllegalArgumentException("empty host");
        }
        subset = subset == null ? "" : subset;
        host = host.toLowerCase(Locale.ROOT);
    }

    /**
     * Parses a server name; empty when it is not of the {@code outbound_.P_.SUBSET_.HOST} form.
     * Allocation-light on purpose: it runs once per connection on the event loop.
     */
    public static Optional<OutboundSni> parse(String sni) {
        if (sni == null || !sni.regionMatches(true, 0, PREFIX, 0, PREFIX.length())) {
            return Optional.empty();
        }
        int portStart = PREFIX.length();
        int portEnd = sni.indexOf("_.", portStart);
        if (portEnd <= portStart || portEnd - portStart > 5) {
            return Optional.empty();
        }
        int port = 0;
        for (int i = portStart; i < portEnd; i++) {
            char c = sni.charAt(i);
            if (c < '0' || c > '9') {
                return Optional.empty();
            }
            port = port * 10 + (c - '0');
        }
        if (port < 1 || port > 65535) {
            return Optional.empty();
        }
        int subsetStart = portEnd + 2;
        int subsetEnd = sni.indexOf("_.", subsetStart);
        if (subsetEnd < 0) {
            return Optional.empty();
        }
        String subset = sni.substring(subsetStart, subsetEnd);
        String host = sni.substring(subsetEnd + 2);
        if (!isHostName(host)) {
            return Optional.empty();
        }
        // "_" is the "no subset" marker in Istio's naming.
        return Optional.of(new OutboundSni(port, subset.equals("_") || subset.isEmpty() ? "" : subset, host));
    }

    /** The routing name for a host and port with no subset, as a sidecar would send it. */
    public static String format(String host, int port) {
        return PREFIX + port + "_._." + host;
    }

    private static boolean isHostName(String host) {
        if (host.isEmpty() || host.length() > 253 || host.startsWith(".") || host.endsWith(".")) {
            return false;
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '.';
            if (!ok || (c == '.' && host.charAt(i - 1) == '.')) {
                return false;
            }
        }
        return true;
    }
}
