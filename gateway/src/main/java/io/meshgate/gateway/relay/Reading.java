package io.meshgate.gateway.relay;

import io.netty.channel.Channel;
import io.netty.channel.socket.DuplexChannel;

/**
 * Turns reading on or off for backpressure, but never on a channel whose input is already shut
 * down: native epoll has unregistered it for reads by then and re-arming fails (ENOENT).
 */
public final class Reading {

    private Reading() {}

    public static void set(Channel ch, boolean read) {
        if (read && (!ch.isOpen() || (ch instanceof DuplexChannel d && d.isInputShutdown()))) {
            return;
        }
        ch.config().setAutoRead(read);
    }
}
