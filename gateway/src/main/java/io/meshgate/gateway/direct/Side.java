package io.meshgate.gateway.direct;

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
 * handler and the interest last given to it. Events go to the connection; so does Netty's
 * {@link #close()} of the handle (the loop shuts down, an interest change failed): it closes the
 * whole connection. Event loop only.
 */
final class Side extends FileDescriptor implements EpollIoHandle {

    private static final Logger log = LoggerFactory.getLogger(Side.class);

    private final DirectConnection connection;
    IoRegistration registration;
    EpollIoOps submitted;
    /** Bytes may be sent to it: always for the downstream, once connected for the upstream. */
    boolean ready;
    /** Its end of stream was read. */
    boolean eof;
    /** Its output was shut down (the peer's FIN passed on). */
    boolean shutOut;

    Side(int fd, DirectConnection connection, boolean ready) {
        super(fd);
        this.connection = connection;
        this.ready = ready;
    }

    @Override
    public FileDescriptor fd() {
        return this;
    }

    @Override
    public void handle(IoRegistration registration, IoEvent event) {
        connection.event(this, ((EpollIoEvent) event).ops().value());
    }

    /** Netty's close of the registration's handle: the whole connection. */
    @Override
    public void close() {
        connection.close();
    }

    /** Gives the kernel {@code ops} if they differ from what it was last given (queued until the loop waits again). */
    void interest(EpollIoOps ops) {
        if (registration != null && ops != submitted) {
            submitted = ops;
            registration.submit(ops);
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
