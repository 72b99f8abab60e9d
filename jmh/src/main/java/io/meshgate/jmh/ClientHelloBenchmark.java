package io.meshgate.jmh;

import io.meshgate.tls.hello.ClientHelloReader;
import io.meshgate.tls.testing.ClientHellos;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.TearDown;

/**
 * What learning the SNI costs per connection: a fresh {@link ClientHelloReader} over a complete
 * first flight in a pooled direct buffer (where an epoll read puts it), whole or fragmented.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "-Dio.netty.leakDetection.level=disabled")
public class ClientHelloBenchmark {

    /** The 2048-byte Chrome-like post-quantum hello (X25519MLKEM768 share, GREASE, ECH GREASE). */
    @Param({"pq-1-record", "pq-3-records-split-header", "pq-64-byte-records", "boringssl-pq-1-record"})
    public String flight;

    private ByteBuf cumulation;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        byte[] pq = ClientHellos.postQuantumHello(ClientHellos.MESH_SNI);
        byte[] handshake = ClientHellos.unframe(pq);
        byte[] bytes = switch (flight) {
            case "pq-1-record" -> pq;
            case "pq-3-records-split-header" -> ClientHellos.frameSizes(handshake, 2, 3);
            case "pq-64-byte-records" -> ClientHellos.frame(handshake, 64);
            case "boringssl-pq-1-record" -> ClientHellos.boringSslHello(ClientHellos.MESH_SNI, "X25519MLKEM768", "X25519");
            default -> throw new IllegalArgumentException(flight);
        };
        cumulation = PooledByteBufAllocator.DEFAULT.directBuffer(bytes.length).writeBytes(bytes);
        ClientHelloReader check = new ClientHelloReader(64 * 1024);
        if (check.read(cumulation) != ClientHelloReader.Status.COMPLETE || !ClientHellos.MESH_SNI.equals(check.serverName())) {
            throw new IllegalStateException(flight + ": reader did not find the SNI: " + check.refusal());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cumulation.release();
    }

    @Benchmark
    public String serverName() {
        ClientHelloReader reader = new ClientHelloReader(64 * 1024);
        reader.read(cumulation);
        return reader.serverName();
    }
}
