package io.meshgate.gateway.warmup;

import io.meshgate.tls.Pem;
import io.meshgate.tls.SpiffeId;
import io.meshgate.tls.TlsFiles;
import io.meshgate.tls.TlsMaterial;
import io.meshgate.tls.TlsMaterialException;
import io.meshgate.tls.TlsMaterialSource;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.pki.PkiException;
import io.micrometer.core.instrument.MeterRegistry;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import javax.net.ssl.SSLException;

/**
 * The terminate warm-up's own PKI, made at start and thrown away: a CA of a trust domain no mesh
 * uses, and three identities it signs (the warm-up listener's, its callers', its endpoints'). The
 * gateway's real material is never used for it: the warm-up's callers would need a key the
 * gateway does not have, and the real trust must not accept anything made here.
 */
final class WarmupPki {

    static final String TRUST_DOMAIN = "warmup.meshgate.invalid";
    private static final Duration VALIDITY = Duration.ofDays(1);

    private final ClusterCa ca;
    private final IssuedIdentity gateway;
    private final IssuedIdentity caller;
    private final IssuedIdentity endpoint;

    private WarmupPki(ClusterCa ca, IssuedIdentity gateway, IssuedIdentity caller, IssuedIdentity endpoint) {
        this.ca = ca;
        this.gateway = gateway;
        this.caller = caller;
        this.endpoint = endpoint;
    }

    /** A new CA and its three identities (EC P-256, a few milliseconds). */
    static WarmupPki create() throws PkiException {
        Instant now = Instant.now();
        ClusterCa ca = ClusterCa.create("meshgate-warmup", TRUST_DOMAIN, now);
        return new WarmupPki(ca, issue(ca, "gateway", now), issue(ca, "caller", now), issue(ca, "endpoint", now));
    }

    private static IssuedIdentity issue(ClusterCa ca, String account, Instant now) throws PkiException {
        return ca.issue(SpiffeId.parse("spiffe://" + TRUST_DOMAIN + "/ns/meshgate-warmup/sa/" + account), List.of(), VALIDITY, now);
    }

    /**
     * The warm-up listener's material, loaded the way the gateway loads its own (from files, which
     * are deleted again at once: an owner-only directory under {@code java.io.tmpdir}).
     */
    TlsMaterialSource gatewayMaterial(MeterRegistry registry) throws IOException, TlsMaterialException {
        Path dir = Files.createTempDirectory("meshgate-warmup-", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        try {
            gateway.write(dir);
            Path bundle = dir.resolve("bundle.pem");
            Pem.writeAtomically(bundle, Pem.encode(ca.rootCert()), false);
            TlsFiles files = new TlsFiles(dir.resolve(IssuedIdentity.CERT_CHAIN), dir.resolve(IssuedIdentity.KEY), bundle);
            return TlsMaterialSource.unannounced(files, Set.of(TRUST_DOMAIN), registry);
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** A caller's client context: the caller identity, ALPN {@code protocol}, the warm-up CA trusted. */
    SslContext callerContext(String protocol) throws SSLException {
        return SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL).protocols(TlsMaterial.PROTOCOLS)
                .keyManager(caller.key(), chain(caller)).trustManager(ca.rootCert())
                .endpointIdentificationAlgorithm(null) // routing names are not DNS names of the gateway's certificate
                .applicationProtocolConfig(alpn(protocol)).build();
    }

    /** An endpoint's server context: the endpoint identity, the gateway's certificate required, ALPN {@code protocol}. */
    SslContext endpointContext(String protocol) throws SSLException {
        return SslContextBuilder.forServer(endpoint.key(), chain(endpoint)).sslProvider(SslProvider.OPENSSL)
                .protocols(TlsMaterial.PROTOCOLS).trustManager(ca.rootCert()).clientAuth(ClientAuth.REQUIRE)
                .applicationProtocolConfig(alpn(protocol)).build();
    }

    private static X509Certificate[] chain(IssuedIdentity identity) {
        return identity.chain().toArray(new X509Certificate[0]);
    }

    private static ApplicationProtocolConfig alpn(String protocol) {
        return new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, protocol);
    }
}
