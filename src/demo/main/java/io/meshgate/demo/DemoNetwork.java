package io.meshgate.demo;

import java.net.InetSocketAddress;

/**
 * Where the demo's clusters live on the loopback network {@code PREFIX.0.0/16} (every
 * {@code 127.x.y.z} reaches the local host on Linux): cluster {@code n}'s gateway and API server
 * on {@code PREFIX.0.(10+n)}, its pods on {@code PREFIX.n.1}, {@code PREFIX.n.2}, ...
 *
 * @param prefix the first two octets, {@code 127.0} by default
 */
record DemoNetwork(String prefix) {

    static final int API_SERVER_PORT = 6443;
    static final int EASTWEST_PORT = 15443;
    static final int EASTWEST_MTLS_PORT = 15444;
    static final int EGRESS_PORT = 15445;
    static final int ADMIN_PORT = 15000;
    static final int POD_PORT = 8443;

    DemoNetwork {
        if (!prefix.matches("127\\.(25[0-5]|2[0-4]\\d|1?\\d?\\d)")) {
            throw new IllegalArgumentException("--network '" + prefix + "': expected the first two octets of a "
                    + "loopback /16, e.g. 127.0");
        }
    }

    /** The address of cluster {@code n}'s meshgate (its listeners and admin) and API server. */
    String gatewayIp(int cluster) {
        return prefix + ".0." + (10 + cluster);
    }

    InetSocketAddress gateway(int cluster, int port) {
        return new InetSocketAddress(gatewayIp(cluster), port);
    }

    String podIp(int cluster, int pod) {
        return prefix + "." + cluster + "." + pod;
    }

    InetSocketAddress pod(int cluster, int pod) {
        return new InetSocketAddress(podIp(cluster, pod), POD_PORT);
    }
}
