package io.meshgate.gateway.direct;

import io.meshgate.gateway.transport.EpollInterest;
import io.netty.channel.IoEvent;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One socket of a {@link DirectConnection}: its descriptor, its registration with the loop's epoll
 * handler and what the kernel last told of it. The socket is registered once, edge-triggered, as
 * nginx does: no interest changes for the hello, the connect, backpressure or a finished input.
 * An upstream socket whose connect is in progress is registered for everything ({@link #ALL}: its
 * connect completes with EPOLLOUT). The accepted socket, and an upstream socket whose connect
 * completed at once ({@link #connectedAtOnce()}), are registered for reads only ({@link #READS}) and
 * asked for EPOLLOUT the first time a send to them falls short ({@link #full()}, one {@code epoll_ctl}): a socket
 * that always takes what is sent to it, the common case, then reports no EPOLLOUT at all. With
 * EPOLLOUT in the interest every other report of the socket (a segment read with the one before
 * it, the ACK of a FIN passed on) comes back as a lone EPOLLOUT, one more pass through the loop
 * with nothing to do, about one per short connection. The kernel reports each change of state
 * once, so the side keeps it ({@link #inReady}, {@link #outReady}) until a system call finds the
 * socket drained or full.
 * Events go to the connection; so does Netty's {@link #close()} of the handle (the loop shuts down,
 * the registration failed): it closes the whole connection. Event loop only.
 */
final class Side extends FileDescriptor implements EpollIoHandle {

    private static final Logger log = LoggerFactory.getLogger(Side.class);

    private final DirectConnection connection;
    /** The upstream socket's interest for its whole life; the accepted socket's once a send to it fell short. */
    static final EpollIoOps ALL = EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLOUT).with(EpollIoOps.EPOLLRDHUP).with(EpollIoOps.EPOLLET);
    /** The accepted socket's interest until a send to it falls short. */
    static final EpollIoOps READS = EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP).with(EpollIoOps.EPOLLET);

    IoRegistration registration;
    /** Bytes or its end of stream may be read: reported, and no read since found it drained. */
    boolean inReady;
    /** Its end of stream (or a hang-up) was reported: read to the end. */
    boolean rdhup;
    /** It may take bytes: reported (assumed for the accepted socket), and no send since found it full. */
    boolean outReady;
    /** EPOLLOUT is in its interest. */
    private boolean outWatched;
    /** Bytes may be sent to it: always for the downstream, once connected for the upstream. */
    boolean ready;
    /** Its end of stream was read. */
    boolean eof;
    /** A read of it failed (a reset): {@link #eof} too, and nothing can be sent to it. */
    boolean broken;
    /** Its output was shut down (the peer's FIN passed on). */
    boolean shutOut;

    /**
     * @param accepted the accepted socket: connected and writable from the start, watched for reads
     *                 only; else the upstream socket, ready once its connect completes
     */
    Side(int fd, DirectConnection connection, boolean accepted) {
        super(fd);
        this.connection = connection;
        this.ready = accepted;
        this.outReady = accepted;
        this.outWatched = !accepted;
    }

    @Override
    public FileDescriptor fd() {
        return this;
    }

    @Override
    public void handle(IoRegistration registration, IoEvent event) {
        if (EpollInterest.stale(this.registration)) {
            return; // an earlier socket's, of the same descriptor number
        }
        connection.event(this, ((EpollIoEvent) event).ops().value());
    }

    /** Netty's close of the registration's handle: the whole connection. */
    @Override
    public void close() {
        connection.close();
    }

    /**
     * The upstream's connect completed at once: ready, and watched for reads only, as an accepted
     * socket is, until a send to it falls short (its interest is still queued: the kernel gets this one).
     */
    void connectedAtOnce() {
        outReady = true;
        if (outWatched) {
            outWatched = false;
            if (registration != null) {
                registration.submit(READS);
            }
        }
    }

    /** Gives the kernel its interest, once (queued until the loop waits again). */
    void watch() {
        registration.submit(outWatched ? ALL : READS);
    }

    /**
     * A send to it fell short ({@link #outReady} false): from now on the kernel reports when it takes
     * bytes again. Once per socket, queued until the loop waits again; the kernel then reports
     * EPOLLOUT at once if the socket took bytes meanwhile.
     */
    void full() {
        outReady = false;
        if (!outWatched && registration != null) {
            outWatched = true;
            registration.submit(ALL);
        }
    }

    /** Closes the descriptor, then cancels the registration (a closed descriptor has left the epoll set: no EPOLL_CTL_DEL). */
    void shut() {
        try {
            super.close();
        } catch (IOException e) {
            log.debug("closing {} failed: {}", this, e.toString());
        }
        if (registration != null) {
            registration.cancel();
            registration = null;
        }
    }
}
