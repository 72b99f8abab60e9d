package io.meshgate.jmh;

import io.meshgate.routing.kubernetes.ClusterState;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;

/**
 * Measures the retained heap of a 10,000 Service / 50,000 endpoint route table (and, separately,
 * of the fabric8 objects an informer cache holds for the same cluster) from heap deltas after GC.
 * Run: {@code java -cp jmh/target/benchmarks.jar io.meshgate.jmh.RouteTableFootprint [services] [endpointsPerService]}.
 */
public final class RouteTableFootprint {

    private RouteTableFootprint() {}

    public static void main(String[] args) throws InterruptedException {
        int services = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
        int perService = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        MemoryMXBean memory = ManagementFactory.getMemoryMXBean();

        long base = usedAfterGc(memory);
        ScaleCluster cluster = new ScaleCluster(services, perService);
        long withObjects = usedAfterGc(memory);
        ClusterState state = ClusterState.of("cluster.local", cluster.services, cluster.slices);
        long withTable = usedAfterGc(memory);

        System.out.printf("services=%d endpoints=%d%n", state.serviceCount(), state.endpointCount());
        System.out.printf("fabric8 Service+EndpointSlice objects (informer caches): %.1f MiB (%d bytes/endpoint)%n",
                mib(withObjects - base), (withObjects - base) / state.endpointCount());
        System.out.printf("route table (ClusterState snapshot): %.1f MiB (%d bytes/endpoint)%n",
                mib(withTable - withObjects), (withTable - withObjects) / state.endpointCount());
        // Keep both reachable until measured.
        if (cluster.services.isEmpty() && state.serviceCount() < 0) {
            System.out.println();
        }
    }

    private static long usedAfterGc(MemoryMXBean memory) throws InterruptedException {
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return memory.getHeapMemoryUsage().getUsed();
    }

    private static double mib(long bytes) {
        return bytes / 1024.0 / 1024.0;
    }
}
