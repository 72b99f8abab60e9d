package io.meshgate.tls.testing;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when Netty reported a buffer leak while it ran. Registered for every test
 * class by auto-detection (junit-platform.properties); the leak level is PARANOID (surefire argLine).
 */
public final class LeakDetectionExtension implements BeforeAllCallback, AfterAllCallback {

    @Override
    public void beforeAll(ExtensionContext context) {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        LeakRecorder.LEAKS.clear();
    }

    @Override
    public void afterAll(ExtensionContext context) throws InterruptedException {
        // Leaks are reported when a later allocation finds a collected, unreleased buffer.
        for (int i = 0; i < 5 && LeakRecorder.LEAKS.isEmpty(); i++) {
            System.gc();
            Thread.sleep(50);
            List<ByteBuf> probes = new ArrayList<>();
            for (int j = 0; j < 64; j++) {
                probes.add(PooledByteBufAllocator.DEFAULT.directBuffer(16));
                probes.add(PooledByteBufAllocator.DEFAULT.heapBuffer(16));
            }
            probes.forEach(ByteBuf::release);
        }
        if (!LeakRecorder.LEAKS.isEmpty()) {
            String first = LeakRecorder.LEAKS.get(0);
            int count = LeakRecorder.LEAKS.size();
            LeakRecorder.LEAKS.clear();
            throw new AssertionError(count + " Netty buffer leak(s) in " + context.getDisplayName() + ":\n" + first);
        }
    }
}
