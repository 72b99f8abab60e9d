package io.meshgate.gateway.relay;

import io.netty.channel.Channel;

/**
 * Moves bytes both ways between a downstream and its upstream until both directions are done.
 * Two implementations with the same behaviour (backpressure, half-close, errors close both):
 * {@link CopyRelay} through pooled buffers on any transport, {@link SpliceRelay} in the kernel
 * on native epoll.
 */
public interface Relay {

    /**
     * Starts relaying. Both channels are active, on the same event loop, reading on or off (the
     * relay sets it);
     * the upstream has already been sent the downstream's buffered first flight.
     */
    void start(Channel downstream, Channel upstream);

    /** A label for logs and {@code /debug}: {@code copy} or {@code splice}. */
    String name();
}
