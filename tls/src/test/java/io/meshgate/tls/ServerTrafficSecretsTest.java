package io.meshgate.tls;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.testing.MemoryHandshake;
import io.meshgate.tls.testing.TestPki;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BoringSSL's side of the TLS 1.3 access_denied rewrite, with real engines in memory: a watched
 * handshake gets its server application secret before BoringSSL writes its refusal alert, that
 * alert is a fatal handshake_failure sealed at record sequence 0 under exactly that secret, and
 * nothing is kept for a handshake nobody watches or once its handle is closed.
 */
class ServerTrafficSecretsTest {

    static final Instant NOW = Instant.now();

    @TempDir
    static Path dir;

    static ClusterCa clusterA;
    static ClusterCa otherDomain;
    static TlsMaterial material;

    @BeforeAll
    static void load() throws Exception {
        clusterA = ClusterCa.create("cluster-a", "cluster.local", NOW);
        otherDomain = ClusterCa.create("cluster-c", "other.example", NOW);
        IssuedIdentity gateway = clusterA.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/eastwest"),
                List.of(), Duration.ofDays(1), NOW);
        TlsFiles files = new TlsFiles(TestPki.write(dir.resolve("gw.pem"), gateway.chain().toArray()),
                TestPki.write(dir.resolve("gw.key"), gateway.key()),
                TestPki.write(dir.resolve("bundle.pem"), clusterA.rootCert(), otherDomain.rootCert()));
        material = TlsMaterial.load(files, Set.of("cluster.local"));
    }

    static SSLEngine client(ClusterCa ca, String trustDomain, String version) throws Exception {
        IssuedIdentity id = ca.issue(SpiffeId.parse("spiffe://" + trustDomain + "/ns/default/sa/sleep"), List.of(),
                Duration.ofDays(1), NOW);
        SslContext context = LoopbackTls.client(id.key(), id.chain(), version);
        return context.newEngine(ByteBufAllocator.DEFAULT, "outbound_.8080_._.echo.default.svc.cluster.local", 443);
    }

    /** The TLS records in {@code bytes}, each with its header. */
    static List<byte[]> records(byte[] bytes) {
        List<byte[]> records = new java.util.ArrayList<>();
        for (int i = 0; i + 5 <= bytes.length; ) {
            int length = (bytes[i + 3] & 0xff) << 8 | bytes[i + 4] & 0xff;
            records.add(Arrays.copyOfRange(bytes, i, Math.min(bytes.length, i + 5 + length)));
            i += 5 + length;
        }
        return records;
    }

    @Test
    void shouldSealTheTls13RefusalAlertUnderTheWatchedSecretAtSequenceZero() throws Exception {
        ServerTrafficSecrets secrets = material.serverTrafficSecrets();
        SSLEngine server = material.serverContext().newEngine(ByteBufAllocator.DEFAULT);
        SSLEngine client = client(otherDomain, "other.example", "TLSv1.3");
        try (ServerTrafficSecrets.Handshake watched = secrets.watch(server)) {
            MemoryHandshake.Result result = MemoryHandshake.run(client, server);

            assertThat(PeerRefusedException.reasonOf(result.serverFailure())).contains(PeerRefusedException.Reason.TRUST_DOMAIN_NOT_ALLOWED);
            assertThat(String.valueOf(result.clientFailure())).contains("ALERT_HANDSHAKE_FAILURE");
            byte[] secret = watched.take();
            assertThat(secret).as("SERVER_TRAFFIC_SECRET_0 of TLS_AES_128_GCM_SHA256 or a SHA-384 suite").isNotNull();
            assertThat(secret.length).isIn(32, 48);
            List<byte[]> sent = records(result.serverBytesAfterFailure());
            assertThat(sent).as("one sealed alert").hasSize(1);
            byte[] rewritten = Tls13AlertRecord.accessDenied(sent.get(0), secret, 0);
            assertThat(rewritten).as("a fatal handshake_failure at sequence 0").isNotNull();
            assertThat(Tls13AlertRecord.open(rewritten, secret, 0).inner()).containsExactly(2, 49, 21);
            assertThat(watched.take()).as("taken once").isNull();
        } finally {
            ReferenceCountUtil.release(server);
            ReferenceCountUtil.release(client);
        }
        assertThat(secrets.watching()).isZero();
    }

    @Test
    void shouldKeepNothingForTls12OrForHandshakesNobodyWatches() throws Exception {
        ServerTrafficSecrets secrets = material.serverTrafficSecrets();
        SSLEngine server = material.serverContext().newEngine(ByteBufAllocator.DEFAULT);
        SSLEngine client = client(otherDomain, "other.example", "TLSv1.2");
        SSLEngine unwatched = material.httpServerHandler(ByteBufAllocator.DEFAULT).engine();
        SSLEngine client13 = client(clusterA, "cluster.local", "TLSv1.3");
        try (ServerTrafficSecrets.Handshake watched = secrets.watch(server)) {
            MemoryHandshake.Result result = MemoryHandshake.run(client, server);
            assertThat(result.serverFailure()).isNotNull();
            assertThat(watched.take()).as("TLS 1.2 has no traffic secret").isNull();

            assertThat(MemoryHandshake.run(client13, unwatched).serverFailure()).isNull();
            assertThat(secrets.watching()).isEqualTo(1);
        } finally {
            ReferenceCountUtil.release(server);
            ReferenceCountUtil.release(client);
            ReferenceCountUtil.release(unwatched);
            ReferenceCountUtil.release(client13);
        }
        assertThat(secrets.watching()).isZero();
    }

    @Test
    void shouldDropTheSecretWhenAnAcceptedHandshakeIsClosed() throws Exception {
        ServerTrafficSecrets secrets = material.serverTrafficSecrets();
        SSLEngine server = material.httpServerHandler(ByteBufAllocator.DEFAULT).engine();
        SSLEngine client = client(clusterA, "cluster.local", "TLSv1.3");
        try {
            ServerTrafficSecrets.Handshake watched = secrets.watch(server);
            assertThat(MemoryHandshake.run(client, server).serverFailure()).isNull();
            assertThat(secrets.watching()).isEqualTo(1);
            watched.close();
            assertThat(watched.take()).isNull();
            assertThat(secrets.watching()).isZero();
        } finally {
            ReferenceCountUtil.release(server);
            ReferenceCountUtil.release(client);
        }
    }

    @Test
    void shouldInstallNothingWithoutAnAllowPolicy() throws Exception {
        assertThat(TlsMaterial.load(material.files(), Set.of()).serverTrafficSecrets()).isNull();
    }

    @Test
    void shouldReadOnlyTheServerApplicationSecretFromKeyLogLines() {
        ServerTrafficSecrets secrets = new ServerTrafficSecrets();
        String random = "ab".repeat(32);
        String secret = "0123456789abcdef".repeat(4);
        ServerTrafficSecrets.Handshake watched = secrets.watch(42L);
        secrets.handle(42, line("CLIENT_TRAFFIC_SECRET_0 " + random + " " + "ff".repeat(32)));
        secrets.handle(42, line("SERVER_HANDSHAKE_TRAFFIC_SECRET " + random + " " + "ee".repeat(32)));
        secrets.handle(7, line("SERVER_TRAFFIC_SECRET_0 " + random + " " + "dd".repeat(32)));
        assertThat(watched.take()).isNull();
        secrets.handle(42, line("SERVER_TRAFFIC_SECRET_0 " + random + " " + secret));
        assertThat(java.util.HexFormat.of().formatHex(watched.take())).isEqualTo(secret);
        secrets.handle(42, line("SERVER_TRAFFIC_SECRET_0 " + random + " " + secret.substring(1)));
        assertThat(watched.take()).as("odd number of digits").isNull();
        watched.close();
        assertThat(secrets.watching()).isZero();
    }

    static byte[] line(String text) {
        return text.getBytes(StandardCharsets.US_ASCII);
    }
}
