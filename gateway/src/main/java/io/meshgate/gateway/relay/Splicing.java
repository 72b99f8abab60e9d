package io.meshgate.gateway.relay;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.epoll.AbstractEpollStreamChannel;

/**
 * Hands one direction of a relay to the kernel: {@code splice(2)} socket → pipe → socket, the
 * bytes never enter the JVM. Needs native epoll and both channels on one event loop. From then on
 * Netty drives the source's autoRead for flow control; nobody else may turn it off.
 */
final class Splicing {

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
}
