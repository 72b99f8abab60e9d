package io.meshgate.gateway.testing;

import io.meshgate.tls.Pem;
import io.meshgate.tls.SpiffeId;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import javax.net.ssl.SSLException;

/**
 * Two clusters' CAs made with the product PKI (root → intermediate → leaf, as {@code pki
 * init-cluster} and {@code pki issue} make them) plus a rogue one, and the identities the
 * terminate tests need: the east-west gateway and the destination pod of cluster A, a caller in
 * cluster B. Also writes the gateway's tls files and swaps the trust bundle atomically.
 */
public final class MeshPki {

    public static final String GATEWAY_ID = "spiffe://cluster.local/ns/istio-system/sa/istio-eastwestgateway-service-account";
    public static final String BACKEND_ID = "spiffe://cluster.local/ns/default/sa/httpbin";
    public static final String CALLER_ID = "spiffe://cluster.local/ns/default/sa/sleep";

    public final ClusterCa clusterA = ca("cluster-a", "cluster.local");
    public final ClusterCa clusterB = ca("cluster-b", "cluster.local");
    public final ClusterCa rogue = ca("rogue", "cluster.local");
    public final IssuedIdentity gateway = issue(clusterA, GATEWAY_ID, TlsPeers.SNI);
    public final IssuedIdentity backend = issue(clusterA, BACKEND_ID, TlsPeers.HOST);
    public final IssuedIdentity callerB = issue(clusterB, CALLER_ID);

    private static ClusterCa ca(String name, String trustDomain) {
        try {
            return ClusterCa.create(name, trustDomain, Instant.now());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A workload certificate valid from now for a day. */
    public static IssuedIdentity issue(ClusterCa ca, String spiffe, String... dns) {
        return issue(ca, spiffe, Instant.now(), Duration.ofDays(1), dns);
    }

    /** A workload certificate valid from {@code from} for {@code validity} (in the past for an expired one). */
    public static IssuedIdentity issue(ClusterCa ca, String spiffe, Instant from, Duration validity, String... dns) {
        try {
            return ca.issue(SpiffeId.parse(spiffe), Arrays.asList(dns), validity, from);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes the gateway's chain and key and a bundle of {@code roots}; returns the directory. */
    public Path writeGatewayFiles(Path dir, ClusterCa... roots) {
        try {
            Files.writeString(dir.resolve("gateway.key"), Pem.encode(gateway.key()));
            Files.writeString(dir.resolve("gateway-chain.pem"), Pem.encode(gateway.chain().toArray()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        writeBundle(dir, roots);
        return dir;
    }

    /** Replaces {@code bundle.pem} in one rename, as a ConfigMap update does. */
    public static void writeBundle(Path dir, ClusterCa... roots) {
        writeAtomically(dir.resolve("bundle.pem"), Pem.encode(Arrays.stream(roots).map(ClusterCa::rootCert).toArray()));
    }

    public static void writeAtomically(Path file, String content) {
        try {
            Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), ".swap", ".tmp");
            Files.writeString(tmp, content);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * {@link TestConfig#terminate} plus {@code extra} top-level YAML, as text; {@code endpoint} may
     * name several endpoints joined by {@code ", "} with inner quotes (as the HTTP/2 tests pass
     * them). For tests that still build YAML; new tests use {@link TestConfig}.
     */
    public static String terminateConfig(Path dir, String protocol, String upstream, String endpoint, String extra) {
        return TestConfig.terminate(dir, protocol, upstream, endpoint.split("\", \"")).merge(extra).yaml();
    }

    /**
     * A sidecar's client context (BoringSSL): presents {@code identity} (null: no certificate),
     * trusts {@code trusted}, no hostname check (the SNI is a routing name).
     */
    public static SslContext client(IssuedIdentity identity, X509Certificate... trusted) {
        try {
            SslContextBuilder b = SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL)
                    .protocols("TLSv1.3", "TLSv1.2").trustManager(trusted).endpointIdentificationAlgorithm(null);
            if (identity != null) {
                b.keyManager(identity.key(), identity.chain().toArray(new X509Certificate[0]));
            }
            return b.build();
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A server context for an endpoint: {@code identity}, client certificates required and verified against {@code trusted}. */
    public static SslContext server(IssuedIdentity identity, List<X509Certificate> trusted) {
        try {
            return SslContextBuilder.forServer(identity.key(), identity.chain().toArray(new X509Certificate[0]))
                    .sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3", "TLSv1.2")
                    .trustManager(trusted.toArray(new X509Certificate[0]))
                    .clientAuth(io.netty.handler.ssl.ClientAuth.REQUIRE).build();
        } catch (SSLException e) {
            throw new IllegalStateException(e);
        }
    }
}
