package io.meshgate.gateway.testing;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * An event loop held by a task of its own that waits, so that what happens meanwhile (bytes, FINs,
 * resets, accepts) piles up for its next {@code epoll_wait}; {@link #close()} lets it go on.
 */
public final class HeldLoop implements AutoCloseable {

    private final CountDownLatch release = new CountDownLatch(1);

    private HeldLoop() {}

    /** Holds {@code loop} until {@link #close()}, or {@code atMost} as a hang guard; returns once it is held. */
    public static HeldLoop hold(Executor loop, Duration atMost) throws InterruptedException {
        HeldLoop held = new HeldLoop();
        CountDownLatch holding = new CountDownLatch(1);
        loop.execute(() -> {
            holding.countDown();
            try {
                held.release.await(atMost.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        if (!holding.await(10, TimeUnit.SECONDS)) {
            throw new AssertionError("the event loop did not run the holding task within 10 s");
        }
        return held;
    }

    @Override
    public void close() {
        release.countDown();
    }
}
