package io.meshgate.jmh;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.ServiceHost;
import io.meshgate.routing.kubernetes.ClusterState;
import io.meshgate.routing.kubernetes.ServiceResolver;
import io.meshgate.routing.kubernetes.ServiceRoutes;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Discovery at scale (10,000 Services / 50,000 endpoints): what one EndpointSlice update costs the
 * publisher (resolve the one Service, share the rest of the snapshot), what a full rebuild would
 * cost for comparison, and what a lookup costs the data path and {@code /debug/resolve}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class DiscoveryBenchmark {

    @Param({"10000"})
    int services;

    @Param({"5"})
    int endpointsPerService;

    private ScaleCluster cluster;
    private ClusterState state;
    private Service[] serviceObjects;
    private List<EndpointSlice>[] updatedSlices;
    private ServiceHost[] keys;
    private String[] hosts;
    private int next;

    @Setup(Level.Trial)
    @SuppressWarnings("unchecked")
    public void load() {
        cluster = new ScaleCluster(services, endpointsPerService);
        state = ClusterState.of("cluster.local", cluster.services, cluster.slices);
        serviceObjects = cluster.services.toArray(Service[]::new);
        updatedSlices = new List[services];
        keys = new ServiceHost[services];
        hosts = new String[services];
        for (int i = 0; i < services; i++) {
            updatedSlices[i] = List.of(ScaleCluster.slice(i, endpointsPerService, 1));
            keys[i] = ClusterState.keyOf(serviceObjects[i]);
            hosts[i] = ScaleCluster.host(i);
        }
        if (state.endpointCount() != services * endpointsPerService) {
            throw new IllegalStateException("expected " + services * endpointsPerService + " endpoints, got "
                    + state.endpointCount());
        }
    }

    private int nextIndex() {
        int i = next;
        next = i + 1 == services ? 0 : i + 1;
        return i;
    }

    /** One slice changed: what the publisher does per dirty Service, from cache objects to a new snapshot. */
    @Benchmark
    public ClusterState applySliceUpdate() {
        int i = nextIndex();
        ServiceRoutes routes = ServiceResolver.routes(serviceObjects[i], updatedSlices[i]);
        return state.with(Map.of(keys[i], routes), List.of());
    }

    /** The data path: host and Service port to endpoints, from a snapshot of 10,000 Services. */
    @Benchmark
    public Resolution resolve() {
        int i = nextIndex();
        return state.resolve(hosts[i], 80);
    }

    /** What a non-incremental design would pay per change: rebuild every Service. */
    @Benchmark
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 2, time = 2)
    @Measurement(iterations = 3, time = 2)
    public ClusterState fullRebuild() {
        return ClusterState.of("cluster.local", cluster.services, cluster.slices);
    }
}
