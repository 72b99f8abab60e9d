package io.meshgate.gateway.relay;

import io.netty.channel.Channel;

/** The portable relay: bytes pass through pooled buffers in user space, on any transport. */
public final class CopyRelay implements Relay {

    @Override
    public void start(Channel downstream, Channel upstream) {
        RelayHandler.install(downstream, upstream, false, RelayHandler.NEVER);
    }

    @Override
    public String name() {
        return "copy";
    }
}
