package io.meshgate.tls.hello;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.meshgate.tls.hello.ClientHelloReader.Status;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * Coverage-guided search for a first flight that makes the reader throw, or answer differently
 * when the same bytes arrive in pieces. {@code mvn verify} replays the seed corpus
 * ({@code src/test/resources/.../ClientHelloReaderFuzzTestInputs}); to fuzz (the JUnit default
 * timeout must be lifted; findings land in that folder, the working corpus in tls/.cifuzz-corpus):
 * <pre>
 * cd tls &amp;&amp; JAZZER_FUZZ=1 mvn -o test -Dtest=ClientHelloReaderFuzzTest \
 *     -Djazzer.max_duration=100s -Djunit.jupiter.execution.timeout.default=10m
 * </pre>
 */
class ClientHelloReaderFuzzTest {

    @FuzzTest(maxDuration = "5m")
    void answersTheSameWholeOrInPieces(byte[] flight) {
        int cap = flight.length > 0 && (flight[flight.length - 1] & 1) == 1 ? 4096 : 64 * 1024;
        ClientHelloReader whole = new ClientHelloReader(cap);
        Status once = read(whole, flight, flight.length);
        ClientHelloReader pieces = new ClientHelloReader(cap);
        Status chunked = read(pieces, flight, 1 + flight.length % 61);
        assertThat(chunked).isEqualTo(once);
        assertThat(pieces.refusal()).isEqualTo(whole.refusal());
        assertThat(pieces.serverName()).isEqualTo(whole.serverName());
        if (once == Status.COMPLETE) {
            assertThat(pieces.helloBytes()).isEqualTo(whole.helloBytes()).isBetween(1, flight.length);
        }
    }

    /** Feeds {@code flight} in chunks through a buffer that ends where the received bytes end. */
    private static Status read(ClientHelloReader reader, byte[] flight, int chunk) {
        Status status;
        int fed = 0;
        do {
            fed = Math.min(fed + chunk, flight.length);
            ByteBuf received = Unpooled.wrappedBuffer(flight, 0, fed);
            status = reader.read(received);
            assertThat(received.readerIndex()).isZero();
            assertThat(received.writerIndex()).isEqualTo(fed);
        } while (status == Status.NEED_MORE && fed < flight.length);
        return status;
    }
}
