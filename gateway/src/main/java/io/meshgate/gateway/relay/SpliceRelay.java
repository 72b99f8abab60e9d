package io.meshgate.gateway.relay;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;

/**
 * The zero-copy relay: once the first flight is forwarded, the kernel moves the bytes
 * socket → pipe → socket ({@code splice(2)}) and they never enter the JVM. Needs native epoll and
 * both channels on one event loop. Netty drives autoRead itself for flow control here, so the
 * relay never turns it off; {@link RelayHandler} still handles half-close, close and errors.
 */
public final class SpliceRelay implements Relay {

    @Override
    public void start(Channel downstream, Channel upstream, ByteBuf firstFlight) {
        RelayHandler.install(downstream, upstream, true, RelayHandler.NEVER, firstFlight);
    }

    @Override
    public String name() {
        return "splice";
    }
}
