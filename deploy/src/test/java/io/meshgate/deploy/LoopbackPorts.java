package io.meshgate.deploy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Loopback ports for a gateway process a test starts, which must know its ports before the process
 * binds them. A port the kernel hands out for {@code bind(0)} comes from the ephemeral range, where
 * any outgoing connection made in the meantime (other tests, the gateway's own dials) may take it
 * between the probe and the gateway's bind. These come from below that range (20000-32767), are
 * probed free, and are never given out twice in one JVM.
 */
final class LoopbackPorts {
    private static final int LOW = 20_000;
    private static final int HIGH = 32_768; // net.ipv4.ip_local_port_range starts here by default
    private static final Set<Integer> GIVEN = ConcurrentHashMap.newKeySet();

    private LoopbackPorts() {}

    static int free() throws IOException {
        for (int i = 0; i < 200; i++) {
            int port = ThreadLocalRandom.current().nextInt(LOW, HIGH);
            if (!GIVEN.add(port)) {
                continue;
            }
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                return s.getLocalPort();
            } catch (IOException taken) {
                // in use: try another
            }
        }
        throw new IOException("no free loopback port in " + LOW + "-" + (HIGH - 1) + " after 200 tries");
    }
}
