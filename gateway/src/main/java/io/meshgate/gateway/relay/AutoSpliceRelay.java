package io.meshgate.gateway.relay;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;

/**
 * Copy for small messages, splice for streams (HAProxy's {@code splice-auto} idea): each direction
 * starts on the copying relay and moves to the kernel at its first read of {@code threshold} bytes
 * or more, i.e. once the peer had that much queued at one time. Small request/response traffic
 * costs two syscalls per message this way (read, write) instead of three splices plus two pipes
 * per connection, and bulk transfers still never enter the JVM. Needs native epoll.
 */
public final class AutoSpliceRelay implements Relay {

    private final int threshold;

    public AutoSpliceRelay(int threshold) {
        if (threshold <= 0) {
            throw new IllegalArgumentException("splice threshold must be positive: " + threshold);
        }
        this.threshold = threshold;
    }

    /** A read of this many bytes or more moves its direction to splice. */
    public int threshold() {
        return threshold;
    }

    @Override
    public void start(Channel downstream, Channel upstream, ByteBuf firstFlight) {
        RelayHandler.install(downstream, upstream, false, threshold, firstFlight);
    }

    @Override
    public String name() {
        return "auto";
    }
}
