package io.meshgate.tls.testing;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Logback appender that records Netty's leak reports ({@code LEAK: ...} from
 * {@code io.netty.util.ResourceLeakDetector}); {@link LeakDetectionExtension} turns them into
 * test failures. Works however early the allocator's detector was created.
 */
public final class LeakRecorder extends AppenderBase<ILoggingEvent> {

    static final List<String> LEAKS = new CopyOnWriteArrayList<>();

    @Override
    protected void append(ILoggingEvent event) {
        String message = event.getFormattedMessage();
        if (message != null && message.contains("LEAK:")) {
            LEAKS.add(message);
        }
    }
}
