package io.meshgate.gateway.listener;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.ServerChannel;

/**
 * A way for a passthrough or egress listener's connections to run without Netty channels
 * ({@code runtime.directPassthrough}): given the listener's server channel, registered and not yet
 * bound, it takes every connection the channel accepts from then on. The listener keeps binding,
 * accepting failures, the connection count and the drain; the path does the rest.
 */
@FunctionalInterface
public interface DirectPath {

    /**
     * Takes the connections {@code server} accepts, running them on {@code group} with the
     * listener's {@code context}; null when it cannot run here (then the listener's pipeline takes
     * them, e.g. on a transport other than epoll).
     */
    Running install(ServerChannel server, ListenerContext context, EventLoopGroup group);

    /** The path at work for one listener. */
    interface Running {
        /** Closes every open connection of the listener, each on its own loop, and returns once they are closed. */
        void closeConnections();
    }
}
