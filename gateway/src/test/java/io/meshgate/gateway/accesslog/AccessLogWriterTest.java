package io.meshgate.gateway.accesslog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The writer never makes a caller wait: a stalled output fills the bounded queue, and the rest is dropped and counted. */
class AccessLogWriterTest {

    private static AccessLogEntry entry(int i) {
        return new AccessLogEntry(0, "eastwest", null, null, null, null, null, -1, i, 0, "bad_hello");
    }

    /** An output whose writes wait until released, like a full pipe or a stalled disk. */
    private static final class StalledOutput extends OutputStream {
        final CountDownLatch writing = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        final ByteArrayOutputStream written = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            written.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            writing.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                throw new java.io.InterruptedIOException();
            }
            synchronized (this) {
                written.write(b, off, len);
            }
        }
    }

    @Test
    void shouldDropAndCountInsteadOfBlockingWhenTheOutputStalls() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        StalledOutput out = new StalledOutput();
        try (AccessLogWriter writer = new AccessLogWriter(out, false, "test", 16, registry)) {
            writer.log(entry(0));
            assertThat(out.writing.await(5, TimeUnit.SECONDS)).as("the writer took the first line").isTrue();
            long start = System.nanoTime();
            for (int i = 1; i <= 100; i++) {
                writer.log(entry(i));
            }
            assertThat(Duration.ofNanos(System.nanoTime() - start)).as("never waits for the output").isLessThan(Duration.ofSeconds(1));
            assertThat(registry.get("meshgate.access.log.dropped").counter().count()).isEqualTo(100 - 16);
            out.release.countDown();
            await().atMost(Duration.ofSeconds(5)).until(() ->
                    registry.get("meshgate.access.log.lines").counter().count() == 17);
        }
        String text = out.written.toString(StandardCharsets.UTF_8);
        assertThat(text.lines()).hasSize(17).allMatch(l -> l.startsWith("{\"time\":") && l.endsWith("\"outcome\":\"bad_hello\"}"));
        assertThat(text).contains("\"bytesToDownstream\":0,").contains("\"bytesToDownstream\":16,")
                .doesNotContain("\"bytesToDownstream\":17,");
    }

    @Test
    void shouldAppendToAFileAndWriteWhatIsQueuedOnClose(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("access.json");
        Files.writeString(file, "{\"earlier\":true}\n");
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        try (AccessLogWriter writer = AccessLogWriter.open(file, 1024, registry)) {
            for (int i = 0; i < 500; i++) {
                writer.log(entry(i));
            }
        }
        assertThat(Files.readAllLines(file)).hasSize(501).first().isEqualTo("{\"earlier\":true}");
    }
}
