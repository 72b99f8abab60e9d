package io.meshgate.e2e;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Loopback ports for servers that another process (the built jar) binds later, so a test must name
 * them in a config before anything listens: port 0 cannot be used.
 *
 * <p>A port merely free when probed through {@code bind(0)} comes from the kernel's ephemeral range
 * ({@code net.ipv4.ip_local_port_range}), from which every outgoing connection and every
 * {@code bind(0)} on the machine (kubectl, the control planes, the fabric8 client, other builds'
 * tests) also takes ports. On a loaded machine the child JVM needs seconds to reach its
 * {@code bind}, and in one CI run the port was gone by then ({@code bind(..) failed with
 * error(-98): Address already in use}). These ports are taken below that range instead, where the
 * kernel hands out nothing on its own, so only explicit binds compete: this JVM hands out each port
 * once, from a random start so concurrent JVMs rarely meet, and probes each without
 * {@code SO_REUSEADDR} (as meshgate's admin server binds), so a port held by a listener or still in
 * TIME_WAIT is skipped.
 */
public final class Ports {

    /** How many ports below the ephemeral range to use (ample: a test run takes a few hundred). */
    private static final int SPAN = 10_000;
    private static final int LOWEST = 1024;
    private static final int[] RANGE = range();
    private static final AtomicInteger NEXT = new AtomicInteger(ThreadLocalRandom.current().nextInt(RANGE[1] - RANGE[0]));

    private Ports() {
    }

    /** A loopback port nobody listens on now and that the kernel does not hand out to others. */
    public static int free() {
        int size = RANGE[1] - RANGE[0];
        for (int i = 0; i < size; i++) {
            int port = RANGE[0] + Math.floorMod(NEXT.getAndIncrement(), size);
            if (bindable(port)) {
                return port;
            }
        }
        throw new IllegalStateException("no free loopback port in " + RANGE[0] + "-" + (RANGE[1] - 1));
    }

    private static boolean bindable(int port) {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(false);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** {@code [from, to)}: the {@link #SPAN} ports below the ephemeral range, or above it where there is no room below. */
    private static int[] range() {
        int low = 32768;
        int high = 60999;
        try {
            // readAllLines, not readString: procfs reports size 0, and readString then returns one byte.
            String[] f = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim().split("\\s+");
            low = Integer.parseInt(f[0]);
            high = Integer.parseInt(f[1]);
        } catch (IOException | RuntimeException e) {
            // not Linux, or unreadable: the kernel's defaults
        }
        if (low - SPAN >= LOWEST) {
            return new int[] {low - SPAN, low};
        }
        if (high + SPAN <= 65535) {
            return new int[] {high + 1, high + 1 + SPAN};
        }
        throw new IllegalStateException("the ephemeral port range " + low + "-" + high + " leaves no " + SPAN + " ports for tests");
    }
}
