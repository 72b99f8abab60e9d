package io.meshgate.gateway.listener;

import io.netty.channel.socket.SocketChannel;

/** Assembles the handlers of one listener mode on an accepted connection (the one place per mode). */
public interface DownstreamPipeline {
    void assemble(SocketChannel ch, Connection connection);
}
