package io.meshgate.gateway.testing;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import javax.net.ssl.SSLException;
import javax.security.auth.x500.X500Principal;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The set-up the h2 tests share, as a JUnit extension ({@code @RegisterExtension static final
 * H2Gateway gateways = new H2Gateway();}): one PKI per test class (cluster A's gateway and
 * endpoints, cluster B's caller), the gateway's files written to a fresh directory before each
 * test (removed after it), and a terminate listener {@value #LISTENER} for one service started on
 * them, plus what such a gateway must forward as XFCC for the caller.
 */
public final class H2Gateway implements BeforeEachCallback, AfterEachCallback {

    public static final String LISTENER = "eastwest-mtls";

    public final MeshPki pki = new MeshPki();
    private Path dir;

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        dir = Files.createTempDirectory("meshgate-h2");
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
    }

    @Override
    public void afterEach(ExtensionContext context) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    /** This test's directory, holding the gateway's certificate chain, key and trust bundle. */
    public Path dir() {
        return dir;
    }

    /**
     * A gateway whose terminate listener serves one {@code protocol} service on {@code endpoints}
     * ({@code host:port}), reaching them with {@code upstream} ({@code mtls} or {@code plaintext});
     * {@code extra} is appended to the configuration.
     */
    public RunningGateway start(String protocol, String upstream, List<String> endpoints, String extra) throws Exception {
        return RunningGateway.start(dir, MeshPki.terminateConfig(dir, protocol, upstream, String.join("\", \"", endpoints), extra));
    }

    /** The XFCC the gateway forwards for the caller ({@code pki.callerB}). */
    public String expectedXfcc() throws Exception {
        String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(pki.callerB.leaf().getEncoded()));
        String subject = pki.callerB.leaf().getSubjectX500Principal().getName(X500Principal.RFC2253);
        return "By=" + MeshPki.GATEWAY_ID + ";Hash=" + hash + ";Subject=\"" + subject + "\";URI=" + MeshPki.CALLER_ID;
    }

    /** The caller's client context offering only ALPN {@code protocol}: its certificate, cluster A's root. */
    public SslContext caller(String protocol) throws SSLException {
        return SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3", "TLSv1.2")
                .trustManager(pki.clusterA.rootCert()).endpointIdentificationAlgorithm(null)
                .keyManager(pki.callerB.key(), pki.callerB.chain().toArray(new X509Certificate[0]))
                .applicationProtocolConfig(new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                        ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                        ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, protocol))
                .build();
    }
}
