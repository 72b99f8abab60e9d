package io.meshgate.gateway.relay;

import io.netty.buffer.ByteBuf;
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
     * relay sets it). {@code firstFlight} (may be null) is what the downstream sent before the
     * upstream existed (the ClientHello): the relay sends it first, as the downstream's first read,
     * and releases it.
     */
    void start(Channel downstream, Channel upstream, ByteBuf firstFlight);

    /** A label for logs and {@code /debug}: {@code copy} or {@code splice}. */
    String name();
}
