package io.meshgate.jmh;

import io.meshgate.tls.PeerRole;
import io.meshgate.tls.PeerVerifier;
import io.meshgate.tls.SpiffeId;
import io.meshgate.tls.TlsFiles;
import io.meshgate.tls.TlsMaterial;
import io.meshgate.tls.TrustBundle;
import io.meshgate.tls.Pem;
import io.meshgate.tls.ServerTrafficSecrets;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.testing.MemoryHandshake;
import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.ReferenceCountUtil;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLEngine;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What the TLS 1.3 access_denied rewrite costs a terminate listener per accepted handshake: one
 * full mTLS handshake (BoringSSL client and server in memory, ECDSA P-256, the gateway's verifier
 * with an allow-policy) with the key-log callback installed and the handshake watched as the
 * gateway does ({@code keyLog=on}), against the same context without it ({@code off}).
 *
 * <p>On a busy machine wall-clock averages cannot resolve microseconds out of a millisecond, so
 * {@link #main} measures the same two variants in thread CPU time (the in-memory handshake runs
 * entirely on the calling thread), in interleaved batches so that drift hits both alike:
 * {@code java -cp jmh/target/benchmarks.jar io.meshgate.jmh.TerminateHandshakeBenchmark [rounds] [batch]}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "-Dio.netty.leakDetection.level=disabled")
public class TerminateHandshakeBenchmark {

    @Param({"off", "on"})
    public String keyLog;

    private SslContext server;
    private ServerTrafficSecrets secrets;
    private SslContext client;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        Instant now = Instant.now();
        ClusterCa ca = ClusterCa.create("cluster-a", "cluster.local", now);
        IssuedIdentity gateway = ca.issue(SpiffeId.parse("spiffe://cluster.local/ns/istio-system/sa/eastwest"), List.of(),
                Duration.ofDays(1), now);
        IssuedIdentity caller = ca.issue(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/sleep"), List.of(),
                Duration.ofDays(1), now);
        if (keyLog.equals("on")) {
            Path dir = Files.createTempDirectory("handshake-bench");
            TlsFiles files = new TlsFiles(Files.writeString(dir.resolve("gw.pem"), Pem.encode(gateway.chain())),
                    Files.writeString(dir.resolve("gw.key"), Pem.encode(gateway.key())),
                    Files.writeString(dir.resolve("bundle.pem"), Pem.encode(ca.rootCert())));
            TlsMaterial material = TlsMaterial.load(files, Set.of("cluster.local"));
            server = material.serverContext();
            secrets = material.serverTrafficSecrets();
            if (secrets == null) {
                throw new IllegalStateException("no key-log callback installed");
            }
        } else {
            TrustBundle bundle = TrustBundle.of(null, List.of(ca.rootCert()), now);
            server = TlsMaterial.serverContext(gateway.chain(), gateway.key(),
                    new PeerVerifier(() -> bundle, Set.of("cluster.local"), PeerRole.CLIENT));
        }
        client = SslContextBuilder.forClient().sslProvider(SslProvider.OPENSSL).protocols("TLSv1.3")
                .trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null)
                .keyManager(caller.key(), caller.chain().toArray(new X509Certificate[0])).build();
    }

    /** Interleaved batches of both variants in thread CPU time; prints per-handshake medians and their difference. */
    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        TerminateHandshakeBenchmark off = new TerminateHandshakeBenchmark();
        off.keyLog = "off";
        off.setUp();
        TerminateHandshakeBenchmark on = new TerminateHandshakeBenchmark();
        on.keyLog = "on";
        on.setUp();
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        for (int i = 0; i < 5 * batch; i++) { // warm-up: JIT, BoringSSL tables
            off.acceptedTls13Handshake();
            on.acceptedTls13Handshake();
        }
        double[] offUs = new double[rounds];
        double[] onUs = new double[rounds];
        double[] deltaUs = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            boolean onFirst = r % 2 == 1;
            double first = cpuMicrosPerHandshake(onFirst ? on : off, batch, cpu);
            double second = cpuMicrosPerHandshake(onFirst ? off : on, batch, cpu);
            offUs[r] = onFirst ? second : first;
            onUs[r] = onFirst ? first : second;
            deltaUs[r] = onUs[r] - offUs[r];
        }
        System.out.printf("TLS 1.3 mTLS handshake, thread CPU time, median of %d interleaved batches of %d:%n", rounds, batch);
        System.out.printf("  keyLog=off  %8.1f us/handshake%n", median(offUs));
        System.out.printf("  keyLog=on   %8.1f us/handshake%n", median(onUs));
        System.out.printf("  difference  %8.1f us/handshake (median of paired differences; quartiles %.1f .. %.1f)%n",
                median(deltaUs), quantile(deltaUs, 0.25), quantile(deltaUs, 0.75));
    }

    private static double cpuMicrosPerHandshake(TerminateHandshakeBenchmark b, int batch,
                                                java.lang.management.ThreadMXBean cpu) throws Exception {
        long start = cpu.getCurrentThreadCpuTime();
        for (int i = 0; i < batch; i++) {
            b.acceptedTls13Handshake();
        }
        return (cpu.getCurrentThreadCpuTime() - start) / 1000.0 / batch;
    }

    private static double median(double[] values) {
        return quantile(values, 0.5);
    }

    private static double quantile(double[] values, double q) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        return sorted[(int) Math.round(q * (sorted.length - 1))];
    }

    @Benchmark
    public Object acceptedTls13Handshake() throws Exception {
        SSLEngine s = server.newEngine(ByteBufAllocator.DEFAULT);
        SSLEngine c = client.newEngine(ByteBufAllocator.DEFAULT, "outbound_.8080_._.echo.default.svc.cluster.local", 443);
        ServerTrafficSecrets.Handshake watched = secrets == null ? null : secrets.watch(s);
        try {
            MemoryHandshake.Result r = MemoryHandshake.run(c, s);
            if (r.serverFailure() != null) {
                throw r.serverFailure();
            }
            return r;
        } finally {
            if (watched != null) {
                watched.close();
            }
            ReferenceCountUtil.release(s);
            ReferenceCountUtil.release(c);
        }
    }
}
