package io.meshgate.gateway.relay;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;

/** The portable relay: bytes pass through pooled buffers in user space, on any transport. */
public final class CopyRelay implements Relay {

    @Override
    public void start(Channel downstream, Channel upstream, ByteBuf firstFlight) {
        RelayHandler.install(downstream, upstream, false, RelayHandler.NEVER, firstFlight);
    }

    @Override
    public String name() {
        return "copy";
    }
}
