package io.meshgate.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.meshgate.gateway.testing.HeldLoop;
import io.meshgate.gateway.transport.Transport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.unix.FileDescriptor;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A spliced direction whose source is reset, reproduced deterministically with real sockets: the
 * source's peer sends more than Netty's first splice of a read event takes, then resets, while the
 * event loop is held, so that one epoll event brings the bytes, EPOLLRDHUP and the reset together.
 * Netty 4.2.18 splices the first 2 KiB, then, for the EPOLLRDHUP, splices the rest, meets
 * ECONNRESET and fails the splice's future; when the relay's listener returns, that read loop reads
 * the source's descriptor once more, by its number, whether or not the listener closed it.
 */
class FailedSpliceTest {

    /** More than the first splice of a read event takes (Netty's initial read guess, 2 KiB). */
    private static final int SENT = 32 * 1024;
    private static final byte[] BAIT = "another connection's first bytes".getBytes(StandardCharsets.US_ASCII);

    private EventLoopGroup group;
    private ServerSocket peers;
    private final List<Socket> held = new ArrayList<>();

    @BeforeEach
    void loop() throws IOException {
        Assumptions.assumeTrue(Epoll.isAvailable(), "native epoll");
        group = Transport.epoll().newGroup(1, "failed-splice");
        peers = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
    }

    @AfterEach
    void close() throws Exception {
        for (Socket s : held) {
            s.close();
        }
        if (peers != null) {
            peers.close();
        }
        if (group != null) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /**
     * The descriptor number a reset source's close frees is taken at once by a socket with
     * {@link #BAIT} waiting in it, as another event loop's accept takes it in the gateway (the new
     * connection's ClientHello waiting in it). The relay must not close the source while Netty's read
     * loop still has it: that loop's last read, by number, took those bytes (and the new connection
     * waited forever for its hello to be read).
     */
    @Test
    void aResetSourceIsClosedOnlyOnceNettysReadLoopIsDoneWithItsDescriptor() throws Exception {
        EventLoop loop = group.next();
        Channel source = connect(loop);
        Socket sourcePeer = accept();
        Channel target = connect(loop);
        Socket targetPeer = accept();
        int number = ((EpollSocketChannel) source).fd().intValue();
        AtomicReference<io.netty.channel.unix.Socket> bait = new AtomicReference<>();
        source.closeFuture().addListener(f -> bait.set(takeNumber(number))); // on the loop, within the close
        loop.submit(() -> new SpliceRelay().start(source, target, null)).sync();

        sendAndResetWhileTheLoopIsHeld(loop, sourcePeer, new byte[SENT]);
        readUntilEndOrReset(targetPeer);

        assertThat(source.closeFuture().await(5, TimeUnit.SECONDS)).as("the source closed").isTrue();
        assertThat(target.closeFuture().await(5, TimeUnit.SECONDS)).as("the target closed").isTrue();
        loop.submit(() -> { }).sync(); // after the event that closed them: Netty's read loop is done with it
        io.netty.channel.unix.Socket taker = bait.get();
        Assumptions.assumeTrue(taker != null, "the freed number went to another thread first");
        try {
            ByteBuffer left = ByteBuffer.allocateDirect(BAIT.length + 1);
            int n = taker.recv(left, 0, left.capacity());
            assertThat(n).as("bytes left in the socket that took the closed source's number").isEqualTo(BAIT.length);
        } finally {
            taker.close();
        }
    }

    /**
     * What a reset source sent before its reset reaches the target whole, then the target's end of
     * stream: Netty's read loop moves the bytes behind its first 2 KiB into the target's pipe and then
     * meets the reset, without queueing their write.
     */
    @Test
    void whatAResetSourceSentBeforeItsResetReachesTheTarget() throws Exception {
        EventLoop loop = group.next();
        Channel source = connect(loop);
        Socket sourcePeer = accept();
        Channel target = connect(loop);
        Socket targetPeer = accept();
        loop.submit(() -> new SpliceRelay().start(source, target, null)).sync();
        byte[] sent = new byte[SENT];
        new Random(5).nextBytes(sent);

        sendAndResetWhileTheLoopIsHeld(loop, sourcePeer, sent);
        byte[] got = readUntilEndOrReset(targetPeer);

        assertThat(got.length).as("bytes the target received").isEqualTo(SENT);
        assertThat(Arrays.equals(got, sent)).as("in order").isTrue();
        assertThat(source.closeFuture().await(5, TimeUnit.SECONDS)).as("the source closed").isTrue();
        assertThat(target.closeFuture().await(5, TimeUnit.SECONDS)).as("the target closed").isTrue();
    }

    private void sendAndResetWhileTheLoopIsHeld(EventLoop loop, Socket peer, byte[] data) throws Exception {
        HeldLoop hold = HeldLoop.hold(loop, Duration.ofSeconds(10));
        peer.getOutputStream().write(data);
        peer.getOutputStream().flush();
        peer.setSoLinger(true, 0);
        peer.close(); // a reset behind the bytes
        Thread.sleep(50);
        hold.close();
    }

    private Channel connect(EventLoop loop) throws InterruptedException {
        return new Bootstrap().group(loop).channel(EpollSocketChannel.class)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .handler(new ChannelInboundHandlerAdapter())
                .connect(InetAddress.getLoopbackAddress(), peers.getLocalPort()).sync().channel();
    }

    private Socket accept() throws IOException {
        Socket s = peers.accept();
        held.add(s);
        s.setSoTimeout(10_000);
        return s;
    }

    /**
     * Makes {@code number}, just freed, a socket connected to {@link #peers} with {@link #BAIT}
     * waiting in it: fills every lower free number first (and frees them again after). Null when
     * another thread took the number first.
     */
    private io.netty.channel.unix.Socket takeNumber(int number) throws Exception {
        List<FileDescriptor> fillers = new ArrayList<>();
        try {
            while (true) {
                FileDescriptor filler = FileDescriptor.from("/dev/null");
                if (filler.intValue() >= number) {
                    filler.close();
                    if (filler.intValue() > number) {
                        return null;
                    }
                    break;
                }
                fillers.add(filler);
            }
            io.netty.channel.unix.Socket taker = io.netty.channel.unix.Socket.newSocketStream();
            if (taker.intValue() != number) {
                taker.close();
                return null;
            }
            taker.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), peers.getLocalPort()));
            Socket other = accept();
            other.getOutputStream().write(BAIT);
            other.getOutputStream().flush();
            Thread.sleep(20); // into the taker's receive queue (loopback: at once, give or take a softirq)
            return taker;
        } finally {
            for (FileDescriptor filler : fillers) {
                filler.close();
            }
        }
    }

    /** What {@code s} receives up to its end of stream, or a reset. */
    private static byte[] readUntilEndOrReset(Socket s) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[8192];
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                got.write(buf, 0, n);
            }
        } catch (SocketException e) {
            if (!String.valueOf(e.getMessage()).contains("reset")) {
                throw e;
            }
        }
        return got.toByteArray();
    }
}
