package io.meshgate.gateway.accesslog;

import io.meshgate.routing.OutboundSni;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Optional;

/**
 * Formats an {@link AccessLogEntry} as one JSON object on one line, fields in a fixed order;
 * absent values are left out rather than written as {@code null}.
 */
public final class AccessLogLine {

    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSX")
            .withZone(ZoneOffset.UTC);

    private AccessLogLine() {}

    /** The entry as a JSON line, newline included. */
    public static String format(AccessLogEntry e) {
        StringBuilder out = new StringBuilder(384);
        append(e, out);
        return out.toString();
    }

    /** Appends the entry as a JSON line, newline included. */
    public static void append(AccessLogEntry e, StringBuilder out) {
        out.append('{');
        string(out, "time", TIME.format(Instant.ofEpochMilli(e.epochMillis())));
        string(out, "listener", e.listener());
        string(out, "peer", address(e.peer()));
        string(out, "sni", e.sni());
        Optional<OutboundSni> route = e.sni() == null ? Optional.empty() : OutboundSni.parse(e.sni());
        string(out, "route", route.map(r -> r.host() + ":" + r.port()).orElse(null));
        string(out, "cluster", e.cluster() == null || e.cluster().isEmpty() ? null : e.cluster());
        string(out, "endpoint", e.endpoint() == null ? null : e.endpoint().toString());
        string(out, "peerIdentity", e.peerIdentity());
        if (e.bytesToUpstream() >= 0) {
            number(out, "bytesToUpstream", e.bytesToUpstream());
        }
        number(out, "bytesToDownstream", e.bytesToDownstream());
        out.append(",\"durationMs\":").append(e.durationNanos() / 1_000_000).append('.');
        long micros = (e.durationNanos() / 1_000) % 1_000;
        out.append((char) ('0' + micros / 100)).append((char) ('0' + micros / 10 % 10)).append((char) ('0' + micros % 10));
        string(out, "outcome", e.outcome());
        out.append("}\n");
    }

    /** {@code ip:port}, IPv6 in brackets; whatever the address says of itself otherwise. */
    private static String address(SocketAddress a) {
        if (a instanceof InetSocketAddress inet && inet.getAddress() != null) {
            String ip = inet.getAddress().getHostAddress();
            return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + inet.getPort();
        }
        return a == null ? null : a.toString();
    }

    private static void separator(StringBuilder out) {
        if (out.charAt(out.length() - 1) != '{') {
            out.append(',');
        }
    }

    private static void number(StringBuilder out, String key, long value) {
        separator(out);
        out.append('"').append(key).append("\":").append(value);
    }

    private static void string(StringBuilder out, String key, String value) {
        if (value == null) {
            return;
        }
        separator(out);
        out.append('"').append(key).append("\":\"");
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20 || c == 0x7f || Character.isSurrogate(c) && !validSurrogate(value, i)) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    /** A surrogate that belongs to a proper pair (written as is); a lone one is escaped so the line stays valid UTF-8. */
    private static boolean validSurrogate(String s, int i) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) {
            return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        }
        return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }
}
