package io.meshgate.gateway.cli;

import io.meshgate.gateway.config.HostPort;
import io.meshgate.gateway.config.GatewaySpec;
import java.io.IOException;
import java.net.ServerSocket;

/**
 * Before {@code run} starts anything (the JIT warm-up takes seconds): every listener's and the
 * admin server's address is tried once, so a port another process holds fails the start at once
 * with the listener and address named, instead of after the warm-up with only the OS's "Address
 * already in use". The real bind still reports a port taken in between.
 */
final class ListenAddresses {

    private ListenAddresses() {}

    /** {@link IllegalStateException} (exit 1) naming the first listener whose address cannot be bound. */
    static void checkFree(GatewaySpec spec) {
        for (int i = 0; i < spec.listeners().size(); i++) {
            GatewaySpec.ListenerSpec l = spec.listeners().get(i);
            check("listeners[" + i + "] '" + l.name() + "'", l.address());
        }
        check("admin", spec.adminAddress());
    }

    private static void check(String what, HostPort address) {
        if (address.port() == 0) {
            return;
        }
        try (ServerSocket probe = new ServerSocket()) {
            probe.setReuseAddress(true); // like the listeners: a port in TIME_WAIT is free
            probe.bind(address.toSocketAddress(), 1);
        } catch (IOException e) {
            throw new IllegalStateException(what + ": cannot listen on " + address + ": " + e.getMessage());
        }
    }
}
