package io.meshgate.tls;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProvider;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;

/**
 * One consistent generation of the gateway's TLS material: trust bundle, serving chain and key,
 * the serving SPIFFE ID, and the BoringSSL contexts built from them. Immutable; rotation builds a
 * new one and publishes it in one volatile write ({@link TlsMaterialSource}), so a handshake
 * always sees a matching chain, key and bundle.
 */
public final class TlsMaterial {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(TlsMaterial.class);
    /** The missing key-log callback is said once per process, not per reload. */
    private static final java.util.concurrent.atomic.AtomicBoolean KEY_LOG_UNAVAILABLE_LOGGED =
            new java.util.concurrent.atomic.AtomicBoolean();

    /** Both TLS versions meshgate speaks; 1.3 first. */
    public static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    private final TlsFiles files;
    private final TrustBundle bundle;
    private final List<X509Certificate> chain;
    private final PrivateKey key;
    private final SpiffeId servingId;
    private final SslContext serverContext;
    private final SslContext upstreamContext;
    /** HTTP services: the server context offering ALPN {@code h2}, {@code http/1.1}. */
    private final SslContext httpServerContext;
    /** {@code http2}/{@code grpc} endpoints: the upstream context asking for ALPN {@code h2}. */
    private final SslContext h2UpstreamContext;
    private final Instant loadedAt;
    /** The terminate contexts' TLS 1.3 alert keys; null when no allow-policy can refuse an identity. */
    private ServerTrafficSecrets serverTrafficSecrets;
    /** What the verifiers read, and who may call: kept for {@link #withFreshSessions()}. */
    private Supplier<TrustBundle> trust;
    private Set<String> allowedTrustDomains;
    private AllowedIdentities allowedIdentities;

    private TlsMaterial(TlsFiles files, TrustBundle bundle, List<X509Certificate> chain, PrivateKey key, SpiffeId servingId,
                        SslContext serverContext, SslContext upstreamContext, SslContext httpServerContext,
                        SslContext h2UpstreamContext, Instant loadedAt) {
        this.files = files;
        this.bundle = bundle;
        this.chain = chain;
        this.key = key;
        this.servingId = servingId;
        this.serverContext = serverContext;
        this.upstreamContext = upstreamContext;
        this.httpServerContext = httpServerContext;
        this.h2UpstreamContext = h2UpstreamContext;
        this.loadedAt = loadedAt;
    }

    /**
     * Loads the three files with a fixed bundle (no rotation), for a client identity: its chain
     * need not lead to the bundle it verifies servers with. The gateway's own material is loaded
     * by {@link TlsMaterialSource}, which also requires that.
     */
    public static TlsMaterial load(TlsFiles files, Set<String> allowedTrustDomains) throws TlsMaterialException {
        return load(files, allowedTrustDomains, AllowedIdentities.ANY, null, Instant.now(), false);
    }

    /**
     * Loads the three files. {@code liveBundle}, when not null, is what the trust managers read on
     * every handshake (the source's current bundle); null pins this material's own bundle.
     * {@code serving}: the chain must lead to a root of the bundle, as the mesh's peers will check it.
     */
    static TlsMaterial load(TlsFiles files, Set<String> allowedTrustDomains, AllowedIdentities allowedIdentities,
                            Supplier<TrustBundle> liveBundle, Instant now, boolean serving) throws TlsMaterialException {
        requireBoringSsl();
        TrustBundle bundle = TrustBundle.load(files.trustBundle(), now);
        List<X509Certificate> chain = Pem.readCertificates(files.certificateChain());
        PrivateKey key = Pem.readPrivateKey(files.privateKey());
        for (int i = 0; i < chain.size(); i++) {
            try {
                chain.get(i).checkValidity(Date.from(now));
            } catch (CertificateExpiredException | CertificateNotYetValidException e) {
                throw new TlsMaterialException(files.certificateChain(), "certificate #" + (i + 1) + " ("
                        + chain.get(i).getSubjectX500Principal().getName() + ") is outside its validity "
                        + chain.get(i).getNotBefore().toInstant() + " .. " + chain.get(i).getNotAfter().toInstant());
            }
        }
        SpiffeId servingId;
        try {
            servingId = SpiffeId.of(chain.get(0));
        } catch (PeerRefusedException e) {
            throw new TlsMaterialException(files.certificateChain(), "the gateway's certificate needs exactly one SPIFFE ID: "
                    + e.getMessage());
        }
        requireMatchingKey(files, chain.get(0), key);
        if (serving) {
            requirePathToBundle(files, chain, bundle, now);
        }
        Supplier<TrustBundle> trust = liveBundle != null ? liveBundle : () -> bundle;
        return build(files, bundle, chain, key, servingId, trust, allowedTrustDomains, allowedIdentities, now);
    }

    private static TlsMaterial build(TlsFiles files, TrustBundle bundle, List<X509Certificate> chain, PrivateKey key,
                                     SpiffeId servingId, Supplier<TrustBundle> trust, Set<String> allowedTrustDomains,
                                     AllowedIdentities allowedIdentities, Instant now) throws TlsMaterialException {
        try {
            PeerVerifier clients = new PeerVerifier(trust, allowedTrustDomains, allowedIdentities, PeerRole.CLIENT);
            PeerVerifier servers = new PeerVerifier(trust, Set.of(), PeerRole.SERVER);
            SslContext server = serverContext(chain, key, clients);
            SslContext upstream = upstreamContext(chain, key, servers);
            SslContext httpServer = serverContext(chain, key, clients, HTTP_SERVER_ALPN);
            SslContext h2Upstream = upstreamContext(chain, key, servers, H2_UPSTREAM_ALPN);
            TlsMaterial m = new TlsMaterial(files, bundle, chain, key, servingId, server, upstream, httpServer, h2Upstream, now);
            m.trust = trust;
            m.allowedTrustDomains = allowedTrustDomains;
            m.allowedIdentities = allowedIdentities;
            if (!allowedTrustDomains.isEmpty() || !allowedIdentities.isEmpty()) {
                // Only an allow-policy refuses with access_denied, the one alert that needs the TLS 1.3 key.
                ServerTrafficSecrets secrets = new ServerTrafficSecrets();
                if (ServerTrafficSecrets.install(server, secrets) && ServerTrafficSecrets.install(httpServer, secrets)) {
                    m.serverTrafficSecrets = secrets;
                } else if (!KEY_LOG_UNAVAILABLE_LOGGED.getAndSet(true)) {
                    log.warn("this netty-tcnative offers no key-log callback: TLS 1.3 callers refused for their identity "
                            + "receive handshake_failure instead of access_denied");
                }
            }
            return m;
        } catch (SSLException | RuntimeException e) {
            throw new TlsMaterialException(files.certificateChain(), "BoringSSL refused the chain or key ("
                    + files.privateKey() + "): " + e.getMessage(), e);
        }
    }

    /**
     * The same identity and trust in new SSL contexts. A TLS session (ticket or session cache, on
     * either side) resumes without the peer's chain being verified again, so once a root has left
     * the trust the contexts its sessions were made under are replaced: every new connection is
     * then a full handshake verified against the trust of now (what a file reload does anyway).
     */
    TlsMaterial withFreshSessions() throws TlsMaterialException {
        return build(files, bundle, chain, key, servingId, trust, allowedTrustDomains, allowedIdentities, loadedAt);
    }

    /**
     * The terminate listener's context: the gateway's chain and key, a client certificate
     * required and verified against the bundle (clientAuth, allowed trust domains and identities), TLS 1.3+1.2.
     */
    public static SslContext serverContext(List<X509Certificate> chain, PrivateKey key, PeerVerifier clientVerifier)
            throws SSLException {
        return serverContext(chain, key, clientVerifier, null);
    }

    /** ALPN of HTTP services on a terminate listener: h2 preferred, HTTP/1.1 kept; a client without ALPN gets HTTP/1.1. */
    public static final ApplicationProtocolConfig HTTP_SERVER_ALPN = new ApplicationProtocolConfig(
            ApplicationProtocolConfig.Protocol.ALPN, ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
            ApplicationProtocolNames.HTTP_2, ApplicationProtocolNames.HTTP_1_1);

    /** ALPN towards {@code http2}/{@code grpc} endpoints: h2 only (checked after the handshake). */
    public static final ApplicationProtocolConfig H2_UPSTREAM_ALPN = new ApplicationProtocolConfig(
            ApplicationProtocolConfig.Protocol.ALPN, ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_2);

    /** As {@link #serverContext(List, PrivateKey, PeerVerifier)} with {@code alpn} offered (null: none). */
    public static SslContext serverContext(List<X509Certificate> chain, PrivateKey key, PeerVerifier clientVerifier,
                                           ApplicationProtocolConfig alpn) throws SSLException {
        return SslContextBuilder.forServer(key, chain.toArray(new X509Certificate[0]))
                .sslProvider(SslProvider.OPENSSL)
                .protocols(PROTOCOLS)
                .clientAuth(ClientAuth.REQUIRE)
                .trustManager(new BundleTrustManager(clientVerifier))
                .applicationProtocolConfig(alpn)
                .build();
    }

    /**
     * The context for mTLS to endpoints: the gateway's identity as client certificate, the
     * endpoint verified against the bundle (serverAuth, one SPIFFE ID). No hostname check: the
     * SNI is an {@code outbound_...} name that no certificate carries; the caller sets it verbatim
     * with {@link #upstreamHandler(SslContext, ByteBufAllocator, String, int)}.
     */
    public static SslContext upstreamContext(List<X509Certificate> chain, PrivateKey key, PeerVerifier serverVerifier)
            throws SSLException {
        return upstreamContext(chain, key, serverVerifier, null);
    }

    /** As {@link #upstreamContext(List, PrivateKey, PeerVerifier)} asking for {@code alpn} (null: none). */
    public static SslContext upstreamContext(List<X509Certificate> chain, PrivateKey key, PeerVerifier serverVerifier,
                                             ApplicationProtocolConfig alpn) throws SSLException {
        return SslContextBuilder.forClient()
                .applicationProtocolConfig(alpn)
                .sslProvider(SslProvider.OPENSSL)
                .protocols(PROTOCOLS)
                .keyManager(key, chain.toArray(new X509Certificate[0]))
                .trustManager(new BundleTrustManager(serverVerifier))
                .endpointIdentificationAlgorithm(null)
                .build();
    }

    /** Fails fast with the reason when netty-tcnative's BoringSSL cannot load on this platform. */
    public static void requireBoringSsl() {
        if (!OpenSsl.isAvailable()) {
            throw new IllegalStateException("BoringSSL (netty-tcnative) is not available on this platform",
                    OpenSsl.unavailabilityCause());
        }
    }

    /**
     * The serving chain must lead to a root of the bundle, the way peers will check it: a chain
     * with only the leaf, or one issued under a root the mesh does not trust, would start "ready"
     * and then fail every handshake with peers that hold the same bundle.
     */
    private static void requirePathToBundle(TlsFiles files, List<X509Certificate> chain, TrustBundle bundle, Instant now)
            throws TlsMaterialException {
        PeerVerifier self = new PeerVerifier(() -> bundle, Set.of(), PeerRole.SERVER, java.time.Clock.fixed(now, java.time.ZoneOffset.UTC));
        try {
            self.verify(chain.toArray(new X509Certificate[0]));
        } catch (PeerRefusedException e) {
            String hint = e.reason() == PeerRefusedException.Reason.MISSING_INTERMEDIATE
                    ? " (put the leaf and its intermediate CA(s) in this file, e.g. cert-chain.pem of pki issue)" : "";
            throw new TlsMaterialException(files.certificateChain(), "does not lead to a root of the trust bundle "
                    + files.trustBundle() + " (" + e.reason().label() + "): " + e.getMessage() + hint);
        }
    }

    private static void requireMatchingKey(TlsFiles files, X509Certificate leaf, PrivateKey key) throws TlsMaterialException {
        String algorithm = switch (key.getAlgorithm()) {
            case "EC" -> "SHA256withECDSA";
            case "RSA" -> "SHA256withRSA";
            case "Ed25519", "EdDSA" -> "Ed25519";
            default -> null;
        };
        if (algorithm == null) {
            throw new TlsMaterialException(files.privateKey(), "unsupported key algorithm " + key.getAlgorithm());
        }
        try {
            byte[] probe = new byte[32];
            new SecureRandom().nextBytes(probe);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(leaf.getPublicKey());
            verifier.update(probe);
            if (!verifier.verify(signature)) {
                throw new TlsMaterialException(files.privateKey(), "does not match the certificate in " + files.certificateChain());
            }
        } catch (GeneralSecurityException e) {
            throw new TlsMaterialException(files.privateKey(), "does not match the certificate in " + files.certificateChain()
                    + ": " + e.getMessage(), e);
        }
    }

    public TlsFiles files() {
        return files;
    }

    public TrustBundle bundle() {
        return bundle;
    }

    /** The serving chain, leaf first. */
    public List<X509Certificate> chain() {
        return chain;
    }

    public X509Certificate leaf() {
        return chain.get(0);
    }

    public PrivateKey key() {
        return key;
    }

    /** The gateway's own SPIFFE ID (XFCC {@code By=}). */
    public SpiffeId servingId() {
        return servingId;
    }

    /** For terminate listeners: {@code serverContext().newHandler(ch.alloc())}. */
    public SslContext serverContext() {
        return serverContext;
    }

    /**
     * The server application traffic secrets of the terminate contexts' TLS 1.3 handshakes, for the
     * handler that names an identity refusal access_denied; null when no allow-policy is set (no
     * key-log callback then, so handshakes pay nothing).
     */
    public ServerTrafficSecrets serverTrafficSecrets() {
        return serverTrafficSecrets;
    }

    /** For mTLS to endpoints; prefer {@link #upstreamHandler}, which sends the SNI verbatim. */
    public SslContext upstreamContext() {
        return upstreamContext;
    }

    /** For terminate listeners: a new server-side handler with this generation's identity and trust. */
    public SslHandler serverHandler(ByteBufAllocator alloc) {
        return serverContext.newHandler(alloc);
    }

    /**
     * For terminate listeners in front of HTTP services ({@code http}, {@code http2}, {@code grpc}):
     * as {@link #serverHandler} but offering ALPN {@code h2} and {@code http/1.1}.
     */
    public SslHandler httpServerHandler(ByteBufAllocator alloc) {
        return httpServerContext.newHandler(alloc);
    }

    /** As {@link #upstreamHandler(ByteBufAllocator, String, int)}, asking the endpoint for ALPN {@code h2}. */
    public SslHandler h2UpstreamHandler(ByteBufAllocator alloc, String sni, int port) {
        return upstreamHandler(h2UpstreamContext, alloc, sni, port);
    }

    /** An upstream handler that sends {@code sni} verbatim; see {@link #upstreamHandler(SslContext, ByteBufAllocator, String, int)}. */
    public SslHandler upstreamHandler(ByteBufAllocator alloc, String sni, int port) {
        return upstreamHandler(upstreamContext, alloc, sni, port);
    }

    /**
     * A client handler whose ClientHello carries {@code sni} byte for byte. Netty only sends a
     * peer host that {@code javax.net.ssl.SNIHostName} accepts, and its STD3 rules reject the
     * underscores of every {@code outbound_.P_.S_.HOST} name (silently: no SNI at all), so the
     * name is handed to BoringSSL directly before the handshake starts.
     */
    public static SslHandler upstreamHandler(SslContext context, ByteBufAllocator alloc, String sni, int port) {
        SslHandler handler = context.newHandler(alloc, sni, port);
        OutboundServerName.apply(handler.engine(), sni);
        return handler;
    }

    public Instant loadedAt() {
        return loadedAt;
    }
}
