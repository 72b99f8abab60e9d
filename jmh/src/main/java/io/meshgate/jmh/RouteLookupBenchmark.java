package io.meshgate.jmh;

import io.meshgate.routing.AppProtocol;
import io.meshgate.routing.Endpoint;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.Router;
import io.meshgate.routing.StaticRoutes;
import io.meshgate.routing.StaticRoutes.StaticService;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What routing a server name costs per connection: {@link Router#resolve(String)} (parse the
 * {@code outbound_} name, then look up the snapshot) over a static table of many services.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
public class RouteLookupBenchmark {

    @Param("1000")
    public int services;

    private Router router;
    /** Every service's routing name, walked in turn so lookups are not all one hot key. */
    private String[] hits;
    private int next;

    @Setup
    public void setUp() {
        List<StaticService> table = new ArrayList<>();
        hits = new String[services];
        for (int i = 0; i < services; i++) {
            String host = "svc" + i + ".ns" + (i % 50) + ".svc.cluster.local";
            List<Endpoint> endpoints = List.of(
                    Endpoint.of("10.1." + (i >> 8 & 0xff) + "." + (i & 0xff), 8080),
                    Endpoint.of("10.2." + (i >> 8 & 0xff) + "." + (i & 0xff), 8080),
                    Endpoint.of("10.3." + (i >> 8 & 0xff) + "." + (i & 0xff), 8080));
            table.add(new StaticService(host, 8080, endpoints, AppProtocol.TCP));
            hits[i] = OutboundSni.format(host, 8080);
        }
        router = new Router(List.of(new StaticRoutes(table)));
        if (!router.resolve(hits[services - 1]).isRouted() || router.resolve(miss()).isRouted()) {
            throw new IllegalStateException("route table not as expected");
        }
    }

    private static String miss() {
        return "outbound_.8080_._.nosuch.default.svc.cluster.local";
    }

    @Benchmark
    public Resolution hit() {
        int i = next;
        next = i + 1 == hits.length ? 0 : i + 1;
        return router.resolve(hits[i]);
    }

    @Benchmark
    public Resolution missNoSuchService() {
        return router.resolve(miss());
    }

    @Benchmark
    public Resolution missNotARoutingName() {
        return router.resolve("www.example.com");
    }
}
