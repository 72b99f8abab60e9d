package io.meshgate.tls;

import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.security.auth.x500.X500Principal;

/**
 * Who is on the other side of a verified handshake: what the gateway authorizes by, logs, and
 * forwards to HTTP upstreams in {@code X-Forwarded-Client-Cert}.
 *
 * @param sha256 lowercase hex SHA-256 of the leaf's DER (XFCC {@code Hash})
 * @param subject RFC 2253 subject DN of the leaf (XFCC {@code Subject})
 */
public record PeerIdentity(SpiffeId spiffeId, X509Certificate leaf, String sha256, String subject) {

    public static PeerIdentity of(X509Certificate leaf) throws PeerRefusedException {
        return new PeerIdentity(SpiffeId.of(leaf), leaf, Fingerprint.sha256(leaf),
                leaf.getSubjectX500Principal().getName(X500Principal.RFC2253));
    }

    /**
     * The identity of a session whose handshake completed; the trust manager has verified the
     * chain already, this only reads the leaf back.
     */
    public static PeerIdentity of(SSLSession session) throws SSLPeerUnverifiedException, PeerRefusedException {
        Certificate[] peer = session.getPeerCertificates();
        if (peer.length == 0 || !(peer[0] instanceof X509Certificate leaf)) {
            throw new SSLPeerUnverifiedException("peer sent no X.509 certificate");
        }
        return of(leaf);
    }

    /**
     * The {@code X-Forwarded-Client-Cert} value CONTRACT fixes (Envoy's format):
     * {@code By=<gateway id>;Hash=<sha256>;Subject="<dn>";URI=<peer id>}.
     */
    public String forwardedClientCert(SpiffeId by) {
        return "By=" + by + ";Hash=" + sha256 + ";Subject=\"" + subject.replace("\\", "\\\\").replace("\"", "\\\"")
                + "\";URI=" + spiffeId;
    }
}
