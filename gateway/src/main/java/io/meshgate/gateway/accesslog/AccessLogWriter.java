package io.meshgate.gateway.accesslog;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The access log as configured: event loops hand entries to a bounded queue without waiting
 * ({@link #log} is a non-blocking {@code offer}); one writer thread formats them as JSON lines and
 * writes them in batches to stdout or a file. When the queue is full, or the file cannot be
 * written, the entries are dropped and counted in {@code meshgate_access_log_dropped_total}:
 * losing log lines is better than slowing traffic (the choice Envoy's and HAProxy's loggers make too).
 */
public final class AccessLogWriter implements AccessLog, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(AccessLogWriter.class);
    private static final int BATCH = 1024;
    private static final long POLL_MS = 100;

    private final ArrayBlockingQueue<AccessLogEntry> queue;
    private final OutputStream out;
    private final boolean ownsOut;
    private final String target;
    private final MeterRegistry registry;
    private final Counter dropped;
    private final Counter lines;
    private final Thread writer;
    private volatile boolean closed;
    private boolean failing;

    /** Appends to {@code file}, or writes to stdout when it is null. */
    public static AccessLogWriter open(Path file, int queueSize, MeterRegistry registry) throws IOException {
        return file == null
                ? new AccessLogWriter(System.out, false, "stdout", queueSize, registry)
                : new AccessLogWriter(new FileOutputStream(file.toFile(), true), true, file.toString(), queueSize, registry);
    }

    /** Writes to {@code out} (closed with this writer when {@code ownsOut}); starts the writer thread. */
    public AccessLogWriter(OutputStream out, boolean ownsOut, String target, int queueSize, MeterRegistry registry) {
        this.queue = new ArrayBlockingQueue<>(queueSize);
        this.out = out;
        this.ownsOut = ownsOut;
        this.target = target;
        this.registry = registry;
        this.dropped = Counter.builder("meshgate.access.log.dropped")
                .description("Access log lines dropped: the writer's queue was full or the file could not be written")
                .register(registry);
        this.lines = Counter.builder("meshgate.access.log.lines")
                .description("Access log lines written").register(registry);
        this.writer = new Thread(this::run, "meshgate-access-log");
        writer.setDaemon(true);
        writer.start();
    }

    @Override
    public boolean enabled() {
        return true;
    }

    @Override
    public void log(AccessLogEntry entry) {
        if (closed || !queue.offer(entry)) {
            dropped.increment();
        }
    }

    private void run() {
        List<AccessLogEntry> batch = new ArrayList<>(BATCH);
        StringBuilder text = new StringBuilder(BATCH * 256);
        while (!closed || !queue.isEmpty()) {
            try {
                AccessLogEntry first = queue.poll(POLL_MS, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, BATCH - 1);
                for (AccessLogEntry e : batch) {
                    AccessLogLine.append(e, text);
                }
                write(text, batch.size());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                dropped.increment(batch.size());
                log.warn("access log: cannot format {} line(s): {}", batch.size(), e.toString());
            } finally {
                batch.clear();
                text.setLength(0);
            }
        }
    }

    private void write(StringBuilder text, int count) {
        try {
            out.write(text.toString().getBytes(StandardCharsets.UTF_8));
            out.flush();
            lines.increment(count);
            if (failing) {
                failing = false;
                log.info("access log: writing to {} again", target);
            }
        } catch (IOException e) {
            dropped.increment(count);
            if (!failing) {
                failing = true; // once per failure streak, not once per batch
                log.warn("access log: cannot write to {} ({}); dropping lines until it works again", target, e.getMessage());
            }
        }
    }

    /** Writes what is queued (waiting up to 5 s), then stops; later entries are dropped. */
    @Override
    public void close() {
        closed = true;
        try {
            writer.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            if (ownsOut) {
                out.close();
            } else {
                out.flush();
            }
        } catch (IOException e) {
            log.debug("access log: closing {}: {}", target, e.toString());
        }
        registry.remove(dropped);
        registry.remove(lines);
    }
}
