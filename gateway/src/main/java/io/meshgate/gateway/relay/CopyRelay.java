package io.meshgate.gateway.relay;

import io.netty.channel.Channel;

/** The portable relay: bytes pass through pooled buffers in user space, on any transport. */
public final class CopyRelay implements Relay {

    @Override
    public void start(Channel downstream, Channel upstream) {
        downstream.pipeline().addLast(MeshgateHandlerNames.RELAY, new RelayHandler(upstream, true));
        upstream.pipeline().addLast(MeshgateHandlerNames.RELAY, new RelayHandler(downstream, true));
        downstream.config().setAutoRead(true);
        upstream.config().setAutoRead(true);
    }

    @Override
    public String name() {
        return "copy";
    }
}
