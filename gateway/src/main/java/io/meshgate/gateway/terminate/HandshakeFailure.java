package io.meshgate.gateway.terminate;

import java.nio.channels.ClosedChannelException;
import java.util.Locale;
import javax.net.ssl.SSLException;

/**
 * What an operator reads about a failed downstream handshake that no rule of meshgate's refused
 * (those are {@code denied}, with their own reasons): the TLS library's error, without a stack
 * trace, and what it usually means. A caller that simply went away before finishing (a load
 * balancer's TCP health check, a client that gave up) is not worth a log line.
 */
final class HandshakeFailure {

    private HandshakeFailure() {}

    /** Whether the caller closed the connection before the handshake could finish. */
    static boolean callerLeft(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof ClosedChannelException) {
                return true;
            }
            String m = t.getMessage();
            if (m != null && m.startsWith("Connection closed while")) {
                return true;
            }
        }
        return !(find(cause) instanceof SSLException);
    }

    /** The TLS library's error for {@code cause}, with a hint when the error is a well-known one. */
    static String describe(Throwable cause) {
        Throwable ssl = find(cause);
        String message = ssl.getMessage() == null ? ssl.getClass().getSimpleName() : ssl.getMessage();
        String hint = hint(message.toUpperCase(Locale.ROOT));
        return hint == null ? message : message + " (" + hint + ")";
    }

    private static String hint(String m) {
        if (m.contains("ALERT_CERTIFICATE_UNKNOWN") || m.contains("ALERT_BAD_CERTIFICATE") || m.contains("ALERT_UNKNOWN_CA")
                || m.contains("ALERT_CERTIFICATE_EXPIRED") || m.contains("ALERT_UNSUPPORTED_CERTIFICATE")) {
            return "the caller refused this gateway's certificate: is the gateway's root in the caller's trust bundle?";
        }
        if (m.contains("NO_SHARED_CIPHER") || m.contains("UNSUPPORTED_PROTOCOL") || m.contains("ALERT_PROTOCOL_VERSION")
                || m.contains("NO_SHARED_GROUP") || m.contains("ALERT_HANDSHAKE_FAILURE")) {
            return "no TLS version, cipher suite or key exchange group in common with the caller";
        }
        if (m.contains("BAD_PACKET_LENGTH")) {
            // TLS 1.3: an OpenSSL-based caller (curl, Python, Node) that refuses the certificate sends
            // its alert before it has switched to its handshake keys, which reads as a bad record here.
            return "a record this gateway could not read; in TLS 1.3 usually the unencrypted alert of an OpenSSL-based"
                    + " caller that refused this gateway's certificate: is the gateway's root in the caller's trust bundle?";
        }
        if (m.contains("HTTP_REQUEST") || m.contains("WRONG_VERSION_NUMBER") || m.contains("NOT_SSL")) {
            return "the caller does not speak TLS on this port";
        }
        return null;
    }

    private static Throwable find(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof SSLException) {
                return t;
            }
        }
        return cause;
    }
}
