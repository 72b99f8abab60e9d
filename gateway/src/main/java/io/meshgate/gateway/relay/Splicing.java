package io.meshgate.gateway.relay;

import io.netty.channel.Channel;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.util.concurrent.Future;
import java.nio.channels.ClosedChannelException;

/**
 * Hands one direction of a relay to the kernel: {@code splice(2)} socket → pipe → socket, the
 * bytes never enter the JVM. Needs native epoll and both channels on one event loop. From then on
 * Netty drives the source's autoRead for flow control; nobody else may turn it off.
 */
final class Splicing {

    private Splicing() {}

    @SuppressWarnings("deprecation") // spliceTo is deprecated in Netty 4.2; the copying relay is the fallback beside it
    static void start(Channel from, Channel to) {
        ((AbstractEpollStreamChannel) from).spliceTo((AbstractEpollStreamChannel) to, Integer.MAX_VALUE)
                .addListener(f -> ended(f, from, to));
    }

    private static void ended(Future<? super Void> f, Channel a, Channel b) {
        // A splice "to the end" only ends by failing; on a normal close that is ClosedChannelException.
        if (!f.isSuccess() && !(f.cause() instanceof ClosedChannelException)) {
            RelayHandler.closeBoth(a, b);
        }
    }
}
