package io.meshgate.gateway.relay;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.unix.FileDescriptor;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hands one direction of a relay to the kernel: {@code splice(2)} socket → pipe → socket, the
 * bytes never enter the JVM. Needs native epoll and both channels on one event loop. From then on
 * Netty drives the source's autoRead for flow control; nobody else may turn it off.
 */
final class Splicing {

    private static final Logger log = LoggerFactory.getLogger(Splicing.class);
    /** A pipe holds 64 KiB unless resized (Netty does not resize its splice pipes). */
    private static final int CHUNK = 64 * 1024;
    /**
     * The read end of a splice target's pipe: Netty 4.2.18's private
     * {@code AbstractEpollStreamChannel.pipeIn}. Absent (null): what a failed splice took in is lost.
     */
    private static final VarHandle PIPE_IN;

    static {
        VarHandle pipeIn = null;
        try {
            pipeIn = MethodHandles.privateLookupIn(AbstractEpollStreamChannel.class, MethodHandles.lookup())
                    .findVarHandle(AbstractEpollStreamChannel.class, "pipeIn", FileDescriptor.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.debug("what a failed splice took in is dropped (Netty's epoll channel changed): {}", e.toString());
        }
        PIPE_IN = pipeIn;
    }

    private Splicing() {}

    /**
     * Splices {@code from} → {@code to} "to the end": the returned future only ever fails, with
     * {@link java.nio.channels.ClosedChannelException} when a channel closed, else with the error
     * that ended the splice. Netty reports that error from inside {@code from}'s read loop: see
     * {@link RelayHandler} for what a listener must not do there.
     */
    @SuppressWarnings("deprecation") // spliceTo is deprecated in Netty 4.2; the copying relay is the fallback beside it
    static ChannelFuture start(Channel from, Channel to) {
        return ((AbstractEpollStreamChannel) from).spliceTo((AbstractEpollStreamChannel) to, Integer.MAX_VALUE);
    }

    /**
     * Writes to {@code to} the bytes a failed splice left in its pipe, flushes them, and returns how
     * many there were. Netty 4.2.18 splices a read socket → pipe until the socket has nothing left,
     * and only then queues one splice write pipe → socket for all of it; when a later splice of that
     * loop fails (a reset right behind the peer's last bytes), what the loop already moved into the
     * pipe is never written. Call on {@code to}'s loop, once everything queued for {@code to} is
     * written and nothing splices into it any more: its pipe then holds those bytes only. They go
     * through buffers, not a splice, so that Netty's write path waits for a socket that does not
     * take them all at once.
     */
    static long writeLeftover(Channel to) {
        if (PIPE_IN == null || !(to instanceof AbstractEpollStreamChannel target) || !target.isOpen()) {
            return 0; // a closed channel's pipe is closed with it: its number may be another's now
        }
        FileDescriptor pipe = (FileDescriptor) PIPE_IN.get(target);
        if (pipe == null || !pipe.isOpen()) {
            return 0; // nothing was ever spliced into it
        }
        long total = SplicedTail.forward(pipe, to);
        if (total > 0) {
            to.flush();
        }
        return total;
    }
}
