package io.meshgate.gateway.relay;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import java.nio.channels.ClosedChannelException;

/**
 * The zero-copy relay: once the first flight is forwarded, the kernel moves the bytes
 * socket → pipe → socket ({@code splice(2)}) and they never enter the JVM. Needs native epoll and
 * both channels on one event loop. Netty drives autoRead itself for flow control here, so the
 * relay never turns it off; {@link RelayHandler} still handles half-close, close and errors.
 */
public final class SpliceRelay implements Relay {

    @Override
    @SuppressWarnings("deprecation") // spliceTo is deprecated in Netty 4.2; CopyRelay is the fallback beside it
    public void start(Channel downstream, Channel upstream) {
        AbstractEpollStreamChannel down = (AbstractEpollStreamChannel) downstream;
        AbstractEpollStreamChannel up = (AbstractEpollStreamChannel) upstream;
        downstream.pipeline().addLast(MeshgateHandlerNames.RELAY, new RelayHandler(upstream, false, SplicedTail::drain));
        upstream.pipeline().addLast(MeshgateHandlerNames.RELAY, new RelayHandler(downstream, false, SplicedTail::drain));
        down.spliceTo(up, Integer.MAX_VALUE).addListener(f -> spliceEnded(f, downstream, upstream));
        up.spliceTo(down, Integer.MAX_VALUE).addListener(f -> spliceEnded(f, downstream, upstream));
        Reading.set(downstream, true);
        Reading.set(upstream, true);
    }

    private static void spliceEnded(io.netty.util.concurrent.Future<? super Void> f, Channel a, Channel b) {
        // A splice "to the end" only ends by failing; on a normal close that is ClosedChannelException.
        if (!f.isSuccess() && !(f.cause() instanceof ClosedChannelException)) {
            RelayHandler.closeBoth(a, b);
        }
    }

    @Override
    public String name() {
        return "splice";
    }
}
