package io.meshgate.gateway.metrics;

import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.concurrent.atomic.AtomicLong;

/** The Prometheus registry with the JVM and Netty allocator binders meshgate always exports. */
public final class GatewayMetrics implements AutoCloseable {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();

    public GatewayMetrics() {
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider provider) {
            new NettyAllocatorMetrics(provider).bindTo(registry);
        }
    }

    /**
     * A registry of the same kind as {@link #registry()}, bound to nothing and never scraped: for
     * meters that must run the real meter classes and leave no trace (the warm-up's listener). The
     * JIT compiles each increment for the meter classes it has seen; a warm-up on another kind of
     * registry left code that the first real connections threw away. Its clock runs fast
     * ({@link FastClock}), so that its meters' time windows rotate during a warm-up of seconds.
     */
    public static PrometheusMeterRegistry throwaway() {
        return new PrometheusMeterRegistry(PrometheusConfig.DEFAULT, new PrometheusRegistry(), new FastClock());
    }

    /**
     * The throwaway registry's clock: its wall time runs one second ahead per reading, and three
     * minutes ahead every 256th. A timer's maximum and histogram rotate their time windows every
     * 40 s of wall time (all of them after 2 minutes idle); at real speed a warm-up of seconds never
     * rotates one, the JIT compiles the connection path (which records connect times) as if none
     * ever did, and the first rotation 40 s into the run sends that path back to the interpreter,
     * under load. Monotonic time is real.
     */
    static final class FastClock implements Clock {
        private final AtomicLong readings = new AtomicLong();

        @Override
        public long wallTime() {
            long n = readings.incrementAndGet();
            return System.currentTimeMillis() + n * 1_000 + (n >>> 8) * 180_000;
        }

        @Override
        public long monotonicTime() {
            return System.nanoTime();
        }
    }

    public PrometheusMeterRegistry registry() {
        return registry;
    }

    public String scrape() {
        return registry.scrape();
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
