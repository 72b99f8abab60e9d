package io.meshgate.tls;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Plugs {@link PeerVerifier} into BoringSSL (netty-tcnative calls it during every handshake);
 * a refusal is thrown as {@link PeerRefusedException}, which netty-tcnative keeps in the
 * handshake failure's cause chain, so the gateway can tell {@code denied} from {@code tls_error}.
 */
public final class BundleTrustManager extends X509ExtendedTrustManager {

    private final PeerVerifier verifier;

    public BundleTrustManager(PeerVerifier verifier) {
        this.verifier = verifier;
    }

    public PeerVerifier verifier() {
        return verifier;
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain, PeerRole.CLIENT);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check(chain, PeerRole.SERVER);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain, PeerRole.CLIENT);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check(chain, PeerRole.SERVER);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain, PeerRole.CLIENT);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check(chain, PeerRole.SERVER);
    }

    /** No CA names in CertificateRequest: the bundle changes under a built context, and clients send their one identity anyway. */
    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
    }

    private void check(X509Certificate[] chain, PeerRole expected) throws CertificateException {
        if (verifier.role() != expected) {
            throw new CertificateException("trust manager for " + verifier.role() + " peers used to verify a " + expected);
        }
        verifier.verify(chain);
    }
}
