package io.meshgate.tls.hello;

import static io.meshgate.tls.testing.ClientHellos.MESH_SNI;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.fail;

import io.meshgate.tls.hello.ClientHelloReader.Refusal;
import io.meshgate.tls.hello.ClientHelloReader.Status;
import io.meshgate.tls.testing.ClientHellos;
import io.meshgate.tls.testing.ClientHellos.SniPosition;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.IntUnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

class ClientHelloReaderTest {

    /** The gateway's default {@code clientHello.maxBytes}. */
    private static final int DEFAULT_CAP = 64 * 1024;
    /**
     * For the randomized properties: PARANOID leak tracking records a stack trace on every buffer
     * access, which turns 10^5 one-byte writes into minutes; the other tests use pooled, tracked buffers.
     */
    private static final ByteBufAllocator UNTRACKED = new UnpooledByteBufAllocator(true, true);
    /** Bytes already consumed from the cumulation, so offsets must be reader-relative. */
    private static final int CONSUMED_PREFIX = 7;

    // ---- framings of a valid hello -----------------------------------------------------------

    static Stream<Named<byte[]>> validFlights() {
        byte[] pq = ClientHellos.builder().grease().echGrease().postQuantum().handshake();
        byte[] big = ClientHellos.builder().grease().postQuantum().padTo(20_000).handshake();
        return Stream.of(
                Named.of("one record", ClientHellos.meshHello()),
                Named.of("post-quantum (1.7 KB), one record", ClientHellos.frame(pq, ClientHellos.MAX_RECORD_PAYLOAD)),
                Named.of("1-byte records", ClientHellos.frame(ClientHellos.builder().handshake(), 1)),
                Named.of("header split over 3 records (2, 3, rest)", ClientHellos.frameSizes(pq, 2, 3)),
                Named.of("header split over 4 records (1, 1, 1, rest)", ClientHellos.frameSizes(pq, 1, 1, 1)),
                Named.of("64-byte records", ClientHellos.frame(pq, 64)),
                Named.of("20 KB hello over 2 records", ClientHellos.frame(big, ClientHellos.MAX_RECORD_PAYLOAD)),
                Named.of("20 KB hello over 1000-byte records", ClientHellos.frame(big, 1000)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("validFlights")
    void readsTheServerNameFromAWholeFlight(byte[] flight) {
        Fed fed = feed(new ClientHelloReader(DEFAULT_CAP), flight, n -> flight.length);
        assertThat(fed.status).isEqualTo(Status.COMPLETE);
        assertThat(fed.reader.serverName()).isEqualTo(MESH_SNI);
        assertThat(fed.reader.helloBytes()).isEqualTo(flight.length);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("validFlights")
    void needsMoreUntilTheLastByteArrivesOneByteAtATime(byte[] flight) {
        Fed fed = feed(new ClientHelloReader(DEFAULT_CAP), flight, n -> 1);
        assertThat(fed.status).isEqualTo(Status.COMPLETE);
        assertThat(fed.fedBytes).as("complete exactly when the last byte arrives").isEqualTo(flight.length);
        assertThat(fed.reader.serverName()).isEqualTo(MESH_SNI);
        assertThat(fed.reader.helloBytes()).isEqualTo(flight.length);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("validFlights")
    void needsMoreUntilCompleteInRandomChunks(byte[] flight) {
        Random random = new Random(flight.length);
        for (int round = 0; round < 20; round++) {
            Fed fed = feed(new ClientHelloReader(DEFAULT_CAP), flight, n -> 1 + random.nextInt(Math.min(n, 3000)));
            assertThat(fed.status).isEqualTo(Status.COMPLETE);
            assertThat(fed.fedBytes).isEqualTo(flight.length);
            assertThat(fed.reader.serverName()).isEqualTo(MESH_SNI);
        }
    }

    @Test
    void postQuantumHelloInTwoSegmentsCompletesOnTheSecond() {
        byte[] flight = ClientHellos.postQuantumHello(MESH_SNI);
        assertThat(flight.length).isEqualTo(2048);
        List<byte[]> segments = ClientHellos.segments(flight, 1448);
        ClientHelloReader reader = new ClientHelloReader(DEFAULT_CAP);
        ByteBuf cumulation = cumulation();
        try {
            cumulation.writeBytes(segments.get(0));
            assertThat(reader.read(cumulation)).isEqualTo(Status.NEED_MORE);
            cumulation.writeBytes(segments.get(1));
            assertThat(reader.read(cumulation)).isEqualTo(Status.COMPLETE);
            assertThat(reader.serverName()).isEqualTo(MESH_SNI);
        } finally {
            cumulation.release();
        }
    }

    @Test
    void helloLargerThanOneRecordIsSplitIntoRecordsOfAtMost16KiB() {
        byte[] flight = ClientHellos.builder().padTo(40_000).build();
        assertThat(flight.length).isEqualTo(40_000 + 3 * 5);
        assertComplete(new ClientHelloReader(DEFAULT_CAP), flight, MESH_SNI);
    }

    @Test
    void handshakeHeaderItselfSplitAcrossRecords() {
        byte[] handshake = ClientHellos.builder().handshake();
        for (int first = 1; first < 4; first++) {
            for (int second = 1; first + second <= 4; second++) {
                assertComplete(new ClientHelloReader(DEFAULT_CAP), ClientHellos.frameSizes(handshake, first, second), MESH_SNI);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(SniPosition.class)
    void findsTheServerNameAtAnyExtensionPositionAmongGreaseAndEch(SniPosition position) {
        byte[] flight = ClientHellos.builder().sniPosition(position).grease().echGrease().postQuantum().alpn("h2").build();
        assertComplete(new ClientHelloReader(DEFAULT_CAP), flight, MESH_SNI);
    }

    @Test
    void serverNameAfterPaddingPast16KiB() {
        byte[] flight = ClientHellos.builder().sniPosition(SniPosition.LAST).grease().echGrease(400).padTo(30_000).build();
        assertComplete(new ClientHelloReader(DEFAULT_CAP), flight, MESH_SNI);
    }

    @Test
    void helloWithoutServerNameCompletesWithNoName() {
        ClientHelloReader reader = new ClientHelloReader(DEFAULT_CAP);
        byte[] flight = ClientHellos.builder().noServerName().grease().echGrease().build();
        assertThat(feed(reader, flight, n -> flight.length).status).isEqualTo(Status.COMPLETE);
        assertThat(reader.serverName()).isNull();
        assertThat(reader.refusal()).isNull();
    }

    @Test
    void helloWithoutAnyExtensionCompletesWithNoName() {
        // A TLS 1.0-style hello: the body stops after compression methods.
        byte[] handshake = ClientHellos.builder().handshake();
        int extensionsAt = 4 + 2 + 32 + 1 + 2 + (handshake[4 + 2 + 32 + 1] << 8 | handshake[4 + 2 + 32 + 2] & 0xff) + 2;
        byte[] body = Arrays.copyOfRange(handshake, 4, extensionsAt);
        byte[] truncated = ClientHellos.concat(new byte[] {1, 0, (byte) (body.length >> 8), (byte) body.length}, body);
        ClientHelloReader reader = new ClientHelloReader(DEFAULT_CAP);
        assertThat(feed(reader, ClientHellos.frame(truncated, 100), n -> 1).status).isEqualTo(Status.COMPLETE);
        assertThat(reader.serverName()).isNull();
    }

    @Test
    void serverNameKeepsItsCaseAndLongestAllowedLength() {
        String longName = "outbound_.8080_._." + "a".repeat(63) + "." + "b".repeat(63) + "." + "c".repeat(63) + ".Svc.Cluster.Local";
        assertThat(longName.length()).isLessThanOrEqualTo(255);
        assertComplete(new ClientHelloReader(DEFAULT_CAP), ClientHellos.builder().serverName(longName).build(), longName);
    }

    @Test
    void serverNameLongerThan255BytesIsRefused() {
        byte[] flight = ClientHellos.builder().serverName("a".repeat(256)).build();
        assertRefused(flight, Refusal.MALFORMED);
    }

    // ---- helloBytes and what follows the hello ---------------------------------------------

    @Test
    void helloBytesStopsAtTheLastHelloRecordAndIgnoresWhatFollows() {
        byte[] hello = ClientHellos.frameSizes(ClientHellos.builder().handshake(), 2, 3);
        byte[] changeCipherSpec = {20, 3, 3, 0, 1, 1};
        byte[] flight = ClientHellos.concat(hello, changeCipherSpec, new byte[] {23, 3, 3, 0, 10});
        ClientHelloReader reader = new ClientHelloReader(DEFAULT_CAP);
        Fed fed = feed(reader, flight, n -> flight.length);
        assertThat(fed.status).isEqualTo(Status.COMPLETE);
        assertThat(reader.helloBytes()).isEqualTo(hello.length);
        assertThat(reader.serverName()).isEqualTo(MESH_SNI);
    }

    @Test
    void readingAgainAfterCompleteKeepsTheAnswer() {
        byte[] flight = ClientHellos.meshHello();
        ClientHelloReader reader = new ClientHelloReader(DEFAULT_CAP);
        ByteBuf cumulation = cumulation();
        try {
            cumulation.writeBytes(flight);
            assertThat(reader.read(cumulation)).isEqualTo(Status.COMPLETE);
            cumulation.writeBytes(ClientHellos.httpRequest());
            assertThat(reader.read(cumulation)).isEqualTo(Status.COMPLETE);
            assertThat(reader.serverName()).isEqualTo(MESH_SNI);
            assertThat(reader.helloBytes()).isEqualTo(flight.length);
        } finally {
            cumulation.release();
        }
    }

    @Test
    void offsetsFollowTheReaderIndexWhenTheCumulationIsCompacted() {
        byte[] flight = ClientHellos.frame(ClientHellos.builder().postQuantum().handshake(), 300);
        ClientHelloReader reader = new ClientHelloReader(DEFAULT_CAP);
        ByteBuf cumulation = cumulation();
        try {
            cumulation.writeBytes(flight, 0, 1000);
            assertThat(reader.read(cumulation)).isEqualTo(Status.NEED_MORE);
            cumulation.discardReadBytes(); // what a merge cumulator may do: same readable bytes, new indexes
            assertThat(cumulation.readerIndex()).isZero();
            cumulation.writeBytes(flight, 1000, flight.length - 1000);
            assertThat(reader.read(cumulation)).isEqualTo(Status.COMPLETE);
            assertThat(reader.serverName()).isEqualTo(MESH_SNI);
        } finally {
            cumulation.release();
        }
    }

    // ---- real clients ------------------------------------------------------------------------

    static Stream<Arguments> boringSslGroups() {
        return Stream.of(
                Arguments.of(Named.of("Netty defaults", new String[0]), List.of(ClientHellos.GROUP_X25519MLKEM768, ClientHellos.GROUP_X25519)),
                Arguments.of(Named.of("X25519MLKEM768 only", new String[] {"X25519MLKEM768"}), List.of(ClientHellos.GROUP_X25519MLKEM768)),
                Arguments.of(Named.of("X25519MLKEM768:X25519", new String[] {"X25519MLKEM768", "X25519"}),
                        List.of(ClientHellos.GROUP_X25519MLKEM768, ClientHellos.GROUP_X25519)),
                Arguments.of(Named.of("classic X25519", new String[] {"X25519"}), List.of(ClientHellos.GROUP_X25519)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("boringSslGroups")
    void readsTheRoutingNameWithUnderscoresFromARealBoringSslHello(String[] groups, List<Integer> expectedShares) throws Exception {
        byte[] flight = ClientHellos.boringSslHello(MESH_SNI, groups);
        assertThat(ClientHellos.keyShareGroups(flight)).as("key shares BoringSSL offered").isEqualTo(expectedShares);
        assertComplete(new ClientHelloReader(DEFAULT_CAP), flight, MESH_SNI);
        byte[] handshake = ClientHellos.unframe(flight);
        assertComplete(new ClientHelloReader(DEFAULT_CAP), ClientHellos.frame(handshake, 1), MESH_SNI);
        assertComplete(new ClientHelloReader(DEFAULT_CAP), ClientHellos.frameSizes(handshake, 2, 3), MESH_SNI);
    }

    @Test
    void nettyAloneDropsAnSniWithUnderscoresSoTheHelloHasNone() throws Exception {
        // Why ClientHellos.sendServerName exists; if this starts failing, Netty sends such names itself.
        byte[] flight = ClientHellos.boringSslHello(MESH_SNI, false);
        ClientHelloReader reader = new ClientHelloReader(DEFAULT_CAP);
        assertThat(feed(reader, flight, n -> flight.length).status).isEqualTo(Status.COMPLETE);
        assertThat(reader.serverName()).isNull();
        assertComplete(new ClientHelloReader(DEFAULT_CAP), ClientHellos.boringSslHello("httpbin.default.svc.cluster.local", false),
                "httpbin.default.svc.cluster.local");
    }

    @Test
    void realPostQuantumHelloSpansTwoTcpSegments() throws Exception {
        byte[] flight = ClientHellos.boringSslHello(MESH_SNI, "X25519MLKEM768", "X25519");
        assertThat(flight.length).as("more than one 1400-byte segment").isGreaterThan(1400);
        Fed fed = feed(new ClientHelloReader(DEFAULT_CAP), flight, n -> 1400);
        assertThat(fed.status).isEqualTo(Status.COMPLETE);
        assertThat(fed.reader.serverName()).isEqualTo(MESH_SNI);
    }

    // ---- refusals ----------------------------------------------------------------------------

    static Stream<Arguments> invalidFlights() {
        byte[] hello = ClientHellos.meshHello();
        byte[] badRecordVersion = hello.clone();
        badRecordVersion[1] = 2;
        byte[] badLegacyVersion = hello.clone();
        badLegacyVersion[5 + 4] = 2;
        byte[] tinyMessage = {22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0};
        byte[] handshake = ClientHellos.builder().handshake();
        byte[] interleavedAlert = ClientHellos.concat(
                ClientHellos.frame(Arrays.copyOf(handshake, 100), 100),
                ClientHellos.alertRecord(),
                ClientHellos.frame(Arrays.copyOfRange(handshake, 100, handshake.length), 1000));
        return Stream.of(
                Arguments.of(Named.of("SSLv2-format hello", ClientHellos.sslv2Hello()), Refusal.SSLV2),
                Arguments.of(Named.of("HTTP request", ClientHellos.httpRequest()), Refusal.NOT_HANDSHAKE),
                Arguments.of(Named.of("alert record", ClientHellos.alertRecord()), Refusal.NOT_HANDSHAKE),
                Arguments.of(Named.of("handshake type ServerHello", ClientHellos.notClientHello()), Refusal.NOT_CLIENT_HELLO),
                Arguments.of(Named.of("record length 16385", ClientHellos.oversizedRecord()), Refusal.BAD_LENGTH),
                Arguments.of(Named.of("zero-length record", ClientHellos.zeroLengthRecord()), Refusal.BAD_LENGTH),
                Arguments.of(Named.of("record version 2.x", badRecordVersion), Refusal.MALFORMED),
                Arguments.of(Named.of("legacy_version 2.x", badLegacyVersion), Refusal.MALFORMED),
                Arguments.of(Named.of("message too short for a hello", tinyMessage), Refusal.BAD_LENGTH),
                Arguments.of(Named.of("alert between hello records", interleavedAlert), Refusal.MALFORMED),
                Arguments.of(Named.of("session id of 33 bytes", ClientHellos.sessionIdTooLong()), Refusal.MALFORMED),
                Arguments.of(Named.of("odd cipher suites length", ClientHellos.oddCipherSuitesLength()), Refusal.MALFORMED),
                Arguments.of(Named.of("extensions length mismatch", ClientHellos.extensionsLengthMismatch()), Refusal.BAD_LENGTH),
                Arguments.of(Named.of("SNI list length mismatch", ClientHellos.serverNameListLengthMismatch()), Refusal.BAD_LENGTH),
                Arguments.of(Named.of("duplicate SNI extension", ClientHellos.duplicateServerName()), Refusal.MALFORMED),
                Arguments.of(Named.of("empty host name", ClientHellos.emptyHostName()), Refusal.MALFORMED),
                Arguments.of(Named.of("non-ASCII host name", ClientHellos.nonAsciiHostName()), Refusal.MALFORMED));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidFlights")
    void refusesWithItsReason(byte[] flight, Refusal expected) {
        assertRefused(flight, expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidFlights")
    void refusesWithTheSameReasonOneByteAtATime(byte[] flight, Refusal expected) {
        Fed fed = feed(new ClientHelloReader(DEFAULT_CAP), flight, n -> 1);
        assertThat(fed.status).isEqualTo(Status.REFUSED);
        assertThat(fed.reader.refusal()).isEqualTo(expected);
        assertThat(fed.reader.serverName()).isNull();
    }

    @Test
    void refusesAtTheFirstByteThatCannotStartATlsHandshake() {
        assertThat(feed(new ClientHelloReader(DEFAULT_CAP), ClientHellos.httpRequest(), n -> 1).fedBytes).isEqualTo(1);
        assertThat(feed(new ClientHelloReader(DEFAULT_CAP), ClientHellos.sslv2Hello(), n -> 1).fedBytes).isEqualTo(3);
    }

    @Test
    void highBitFirstByteIsCalledSslv2OnlyWhenTheThirdByteSaysClientHelloHoweverItArrives() {
        // Found by ClientHelloReaderFuzzTest: 1-2 bytes were judged SSLv2, 3 bytes not, so the
        // refusal depended on TCP segmentation.
        byte[] notSslv2 = {(byte) 0x80, 0x0a, 0x00, 0x06, 0x00, 0x04};
        for (int chunk = 1; chunk <= notSslv2.length; chunk++) {
            int size = chunk;
            Fed fed = feed(new ClientHelloReader(DEFAULT_CAP), notSslv2, n -> size);
            assertThat(fed.reader.refusal()).as("in %d-byte pieces", chunk).isEqualTo(Refusal.NOT_HANDSHAKE);
            assertThat(fed.fedBytes).as("refused on the first read holding 3 bytes").isEqualTo((3 + chunk - 1) / chunk * chunk);
        }
        for (int chunk = 1; chunk <= 3; chunk++) {
            int size = chunk;
            byte[] sslv2 = ClientHellos.sslv2Hello();
            assertThat(feed(new ClientHelloReader(DEFAULT_CAP), sslv2, n -> size).reader.refusal()).isEqualTo(Refusal.SSLV2);
        }
    }

    @Test
    void defaultCapTakesAFlightOfExactly64KiBAndNotOneByteMore() {
        byte[] atCap = ClientHellos.builder().padTo(DEFAULT_CAP - 4 * 5).build();
        assertThat(atCap.length).isEqualTo(DEFAULT_CAP);
        assertComplete(new ClientHelloReader(DEFAULT_CAP), atCap, MESH_SNI);
        byte[] overCap = ClientHellos.builder().padTo(DEFAULT_CAP - 4 * 5 + 1).build();
        assertThat(overCap.length).isEqualTo(DEFAULT_CAP + 1);
        assertRefused(overCap, Refusal.TOO_LARGE);
        assertThat(feed(new ClientHelloReader(DEFAULT_CAP), overCap, n -> 1).status).isEqualTo(Status.REFUSED);
    }

    @Test
    void helloOver64KiBPassesARaisedCap() {
        byte[] flight = hugeHello();
        assertComplete(new ClientHelloReader(128 * 1024), flight, MESH_SNI);
        assertRefused(flight, Refusal.TOO_LARGE);
    }

    @Test
    void capIsConfigurable() {
        byte[] flight = ClientHellos.postQuantumHello(MESH_SNI);
        assertComplete(new ClientHelloReader(flight.length), flight, MESH_SNI);
        assertRefused(new ClientHelloReader(flight.length - 1), flight, Refusal.TOO_LARGE);
        assertRefused(new ClientHelloReader(1024), flight, Refusal.TOO_LARGE);
        assertThatThrownBy(() -> new ClientHelloReader(8)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void refusesAsSoonAsARecordHeaderDeclaresMoreThanTheCap() {
        byte[] flight = ClientHellos.builder().padTo(10_000).build();
        Fed fed = feed(new ClientHelloReader(4096), flight, n -> 1);
        assertThat(fed.status).isEqualTo(Status.REFUSED);
        assertThat(fed.reader.refusal()).isEqualTo(Refusal.TOO_LARGE);
        assertThat(fed.fedBytes).as("refused on the record header").isEqualTo(5);
    }

    @Test
    void refusesAsSoonAsTheHandshakeHeaderDeclaresMoreThanTheCap() {
        // Every record fits under the cap; only the declared message length gives the size away.
        byte[] flight = hugeHello();
        Fed fed = feed(new ClientHelloReader(DEFAULT_CAP), flight, n -> 1);
        assertThat(fed.status).isEqualTo(Status.REFUSED);
        assertThat(fed.reader.refusal()).isEqualTo(Refusal.TOO_LARGE);
        assertThat(fed.fedBytes).as("refused on the handshake header, not after a 16 KiB record").isEqualTo(5 + 4);
    }

    @Test
    void refusesAsSoonAsTheHandshakeTypeIsNotClientHello() {
        Fed fed = feed(new ClientHelloReader(DEFAULT_CAP), ClientHellos.notClientHello(), n -> 1);
        assertThat(fed.reader.refusal()).isEqualTo(Refusal.NOT_CLIENT_HELLO);
        assertThat(fed.fedBytes).isEqualTo(5 + 1);
    }

    @Test
    void refusesWhenRecordOverheadPushesTheFlightOverTheCap() {
        // 64 KiB of handshake needs 5 record headers: the flight cannot fit a 64 KiB cap.
        byte[] handshake = ClientHellos.builder().padTo(DEFAULT_CAP - 10).handshake();
        byte[] flight = ClientHellos.frame(handshake, ClientHellos.MAX_RECORD_PAYLOAD);
        assertThat(flight.length).isGreaterThan(DEFAULT_CAP);
        assertRefused(flight, Refusal.TOO_LARGE);
    }

    @Test
    void refusedStateIsFinal() {
        ClientHelloReader reader = new ClientHelloReader(DEFAULT_CAP);
        ByteBuf cumulation = cumulation();
        try {
            cumulation.writeBytes(ClientHellos.alertRecord());
            assertThat(reader.read(cumulation)).isEqualTo(Status.REFUSED);
            cumulation.writeBytes(ClientHellos.meshHello());
            assertThat(reader.read(cumulation)).isEqualTo(Status.REFUSED);
            assertThat(reader.refusal()).isEqualTo(Refusal.NOT_HANDSHAKE);
        } finally {
            cumulation.release();
        }
    }

    // ---- randomized properties ---------------------------------------------------------------

    @Test
    void randomReframingsOfValidHellosAlwaysGiveTheSameServerName() {
        Random random = new Random(0x5eed);
        for (int i = 0; i < 500; i++) {
            String sni = "outbound_.%d_._.svc%d.ns.svc.cluster.local".formatted(1 + random.nextInt(65535), i);
            byte[] handshake = randomHello(random, sni).handshake();
            byte[] flight = randomFraming(random, handshake);
            int maxChunk = 1 + random.nextInt(random.nextBoolean() ? 8 : 4000);
            // Tiny records triple a padded hello's size; the cap is not what this property is about.
            Fed fed = feed(UNTRACKED, new ClientHelloReader(1 << 20), flight, n -> 1 + random.nextInt(maxChunk));
            assertThat(fed.status).as("hello %d (%d bytes)", i, flight.length).isEqualTo(Status.COMPLETE);
            assertThat(fed.reader.serverName()).isEqualTo(sni);
            assertThat(fed.reader.helloBytes()).isEqualTo(flight.length);
            assertThat(fed.fedBytes).isEqualTo(flight.length);
        }
    }

    @Test
    void randomMutationsAndTruncationsNeverThrowAndReadTheSameInPiecesAsWhole() {
        Random random = new Random(0xbad);
        List<byte[]> seeds = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            seeds.add(randomFraming(random, randomHello(random, MESH_SNI).handshake()));
        }
        for (int i = 0; i < 10_000; i++) {
            byte[] flight = mutate(random, seeds.get(random.nextInt(seeds.size())));
            int cap = random.nextInt(4) == 0 ? 9 + random.nextInt(4000) : DEFAULT_CAP;
            int maxChunk = 1 + random.nextInt(2000);
            Fed fed;
            try {
                fed = feed(UNTRACKED, new ClientHelloReader(cap), flight, n -> 1 + random.nextInt(maxChunk));
            } catch (RuntimeException e) {
                throw new AssertionError("mutation " + i + " threw", e);
            }
            ClientHelloReader reader = fed.reader;
            Fed whole = feed(UNTRACKED, new ClientHelloReader(cap), flight, n -> flight.length);
            assertThat(fed.status).as("mutation %d: in pieces as whole", i).isEqualTo(whole.status);
            assertThat(reader.refusal()).isEqualTo(whole.reader.refusal());
            assertThat(reader.serverName()).isEqualTo(whole.reader.serverName());
            assertThat(reader.refusal() != null).isEqualTo(fed.status == Status.REFUSED);
            if (fed.status == Status.COMPLETE) {
                assertThat(reader.helloBytes()).isBetween(1, flight.length);
                String name = reader.serverName();
                if (name != null) {
                    assertThat(name).hasSizeBetween(1, 255).matches("[\\x21-\\x7e]+");
                }
            } else {
                assertThat(reader.serverName()).isNull();
            }
        }
    }

    /** A valid 110 KB hello: 60,000 bytes of cipher suites and a large padding extension, in full records. */
    private static byte[] hugeHello() {
        return ClientHellos.builder().rawCipherSuites(new byte[60_000]).padTo(110_000).build();
    }

    private static ClientHellos.Builder randomHello(Random random, String sni) {
        ClientHellos.Builder b = ClientHellos.builder().seed(random.nextLong()).serverName(sni)
                .sniPosition(SniPosition.values()[random.nextInt(3)])
                .sessionId(random.nextBoolean() ? 32 : 0);
        if (random.nextBoolean()) {
            b.grease();
        }
        if (random.nextBoolean()) {
            b.echGrease(random.nextInt(300));
        }
        if (random.nextBoolean()) {
            b.postQuantum();
        }
        if (random.nextBoolean()) {
            b.alpn("h2", "http/1.1");
        }
        if (random.nextInt(5) == 0) {
            b.padTo(3000 + random.nextInt(40_000));
        }
        return b;
    }

    /** The handshake in records of random sizes: tiny, medium or full. */
    private static byte[] randomFraming(Random random, byte[] handshake) {
        List<Integer> sizes = new ArrayList<>();
        int left = handshake.length;
        int style = random.nextInt(3);
        while (left > 0) {
            int size = switch (style) {
                case 0 -> 1 + random.nextInt(5);
                case 1 -> 1 + random.nextInt(2000);
                default -> 1 + random.nextInt(ClientHellos.MAX_RECORD_PAYLOAD);
            };
            size = Math.min(size, left);
            sizes.add(size);
            left -= size;
        }
        return ClientHellos.frameSizes(handshake, sizes.stream().mapToInt(Integer::intValue).toArray());
    }

    private static byte[] mutate(Random random, byte[] flight) {
        byte[] b = flight.clone();
        int mutations = 1 + random.nextInt(4);
        for (int m = 0; m < mutations && b.length > 0; m++) {
            int at = random.nextInt(b.length);
            switch (random.nextInt(5)) {
                case 0 -> b[at] = (byte) random.nextInt(256);
                case 1 -> b[at] ^= (byte) (1 << random.nextInt(8));
                case 2 -> b = Arrays.copyOf(b, at); // truncation
                case 3 -> b[at] = (byte) (random.nextBoolean() ? 0 : 0xff);
                default -> { // a length-like field off by one
                    b[at] += random.nextBoolean() ? 1 : -1;
                }
            }
        }
        return b;
    }

    // ---- feeding -----------------------------------------------------------------------------

    /** Where feeding stopped: the status, and how many bytes the cumulation held then. */
    private record Fed(ClientHelloReader reader, Status status, int fedBytes) {}

    /**
     * Grows a pooled cumulation chunk by chunk, as the gateway's handler does, and reads after
     * each chunk until the reader stops asking for more; checks it never moves the indexes.
     */
    private static Fed feed(ClientHelloReader reader, byte[] flight, IntUnaryOperator nextChunk) {
        return feed(PooledByteBufAllocator.DEFAULT, reader, flight, nextChunk);
    }

    /**
     * As {@link #feed(ClientHelloReader, byte[], IntUnaryOperator)}, the reader seeing a view that
     * ends at the writer index, so reading past the bytes received throws instead of reading stale memory.
     */
    private static Fed feed(ByteBufAllocator alloc, ClientHelloReader reader, byte[] flight, IntUnaryOperator nextChunk) {
        ByteBuf cumulation = alloc.directBuffer(256);
        cumulation.writeZero(CONSUMED_PREFIX).skipBytes(CONSUMED_PREFIX);
        try {
            int fed = 0;
            Status status = Status.NEED_MORE;
            while (fed < flight.length) {
                int n = Math.min(flight.length - fed, Math.max(1, nextChunk.applyAsInt(flight.length - fed)));
                cumulation.writeBytes(flight, fed, n);
                fed += n;
                ByteBuf view = cumulation.slice(0, cumulation.writerIndex()).readerIndex(CONSUMED_PREFIX);
                int writerIndex = view.writerIndex();
                status = reader.read(view);
                if (view.readerIndex() != CONSUMED_PREFIX || view.writerIndex() != writerIndex) {
                    fail("the reader moved the cumulation's indexes");
                }
                if (status != Status.NEED_MORE) {
                    break;
                }
                assertThat(reader.refusal()).isNull();
                assertThat(reader.serverName()).isNull();
            }
            return new Fed(reader, status, fed);
        } finally {
            cumulation.release();
        }
    }

    private static ByteBuf cumulation() {
        ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(256);
        buf.writeZero(CONSUMED_PREFIX).skipBytes(CONSUMED_PREFIX);
        return buf;
    }

    private static void assertComplete(ClientHelloReader reader, byte[] flight, String expected) {
        Fed fed = feed(reader, flight, n -> flight.length);
        assertThat(fed.status).as("status (refusal %s)", reader.refusal()).isEqualTo(Status.COMPLETE);
        assertThat(reader.serverName()).isEqualTo(expected);
        assertThat(reader.helloBytes()).isEqualTo(flight.length);
    }

    private static void assertRefused(byte[] flight, Refusal expected) {
        assertRefused(new ClientHelloReader(DEFAULT_CAP), flight, expected);
    }

    private static void assertRefused(ClientHelloReader reader, byte[] flight, Refusal expected) {
        Fed fed = feed(reader, flight, n -> flight.length);
        assertThat(fed.status).isEqualTo(Status.REFUSED);
        assertThat(reader.refusal()).isEqualTo(expected);
        assertThat(reader.serverName()).isNull();
    }
}
