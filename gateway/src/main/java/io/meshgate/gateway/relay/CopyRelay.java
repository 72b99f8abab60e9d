package io.meshgate.gateway.relay;

import io.netty.channel.Channel;

/** The portable relay: bytes pass through pooled buffers in user space, on any transport. */
public final class CopyRelay implements Relay {

    @Override
    public void start(Channel downstream, Channel upstream) {
        downstream.pipeline().addLast(MeshgateHandlerNames.RELAY, new RelayHandler(upstream, true, RelayHandler.NOTHING_LEFT));
        upstream.pipeline().addLast(MeshgateHandlerNames.RELAY, new RelayHandler(downstream, true, RelayHandler.NOTHING_LEFT));
        Reading.set(downstream, true);
        Reading.set(upstream, true);
    }

    @Override
    public String name() {
        return "copy";
    }
}
