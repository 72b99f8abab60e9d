package io.meshgate.tls;

import io.netty.handler.ssl.OpenSslCertificateException;
import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Plugs {@link PeerVerifier} into BoringSSL (netty-tcnative calls it during every handshake);
 * a refusal is thrown as an {@link OpenSslCertificateException} carrying the reason's X.509 error
 * code, so BoringSSL sends the alert that names the problem (unknown_ca, certificate_expired,
 * bad_certificate...) instead of internal_error, with the {@link PeerRefusedException} as its cause,
 * which netty-tcnative keeps in the handshake failure's cause chain, so the gateway can tell
 * {@code denied} from {@code tls_error}.
 */
public final class BundleTrustManager extends X509ExtendedTrustManager {

    /**
     * The identity refusal this thread's last verification made, until taken: BoringSSL writes its
     * alert in the same call stack on the same event loop, so the gateway can name it
     * ({@code access_denied}) on the way out. Only identity refusals are recorded
     * ({@code trust_domain_not_allowed}, {@code identity_not_allowed}: {@link PeerRefusedException.Reason#identityRefusal()}).
     */
    private static final ThreadLocal<PeerRefusedException.Reason> IDENTITY_REFUSED_HERE = new ThreadLocal<>();

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

    /** The identity refusal recorded on this thread by the last verification, cleared by the call; null if none. */
    public static PeerRefusedException.Reason takeIdentityRefusal() {
        PeerRefusedException.Reason r = IDENTITY_REFUSED_HERE.get();
        if (r != null) {
            IDENTITY_REFUSED_HERE.remove();
        }
        return r;
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
        try {
            verifier.verify(chain);
        } catch (PeerRefusedException refused) {
            if (refused.reason().identityRefusal()) {
                IDENTITY_REFUSED_HERE.set(refused.reason());
            }
            // netty-tcnative hands this code to BoringSSL, which sends the matching alert; the
            // refusal stays in the cause chain for the gateway's denied/tls_error split.
            throw new OpenSslCertificateException(refused.getMessage(), refused, refused.reason().verifyError());
        }
    }
}
