package io.meshgate.gateway.testing;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails a test class when an exception reached the tail of one of the gateway's channel pipelines
 * (on a {@code meshgate-} event loop; test clients' own channels are not checked) while it ran:
 * every exception on meshgate's channels must end at a handler of ours. The appender half is
 * wired to Netty's pipeline logger in logback-test.xml; test classes opt in with
 * {@code @ExtendWith(UnhandledExceptions.class)} (the passthrough and relay suites do).
 */
public final class UnhandledExceptions extends AppenderBase<ILoggingEvent> implements BeforeAllCallback, AfterAllCallback {

    static final String TAIL = "reached at the tail of the pipeline";
    static final List<String> SEEN = new CopyOnWriteArrayList<>();

    @Override
    protected void append(ILoggingEvent event) {
        String message = event.getFormattedMessage();
        if (message != null && message.contains(TAIL) && event.getThreadName().startsWith("meshgate-")) {
            SEEN.add(event.getThreadName() + ": " + (event.getThrowableProxy() == null ? message
                    : event.getThrowableProxy().getClassName() + ": " + event.getThrowableProxy().getMessage()));
        }
    }

    /** The tail warnings recorded since the test class started. */
    public static List<String> seen() {
        return List.copyOf(SEEN);
    }

    public static void clear() {
        SEEN.clear();
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        SEEN.clear();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (!SEEN.isEmpty()) {
            List<String> seen = List.copyOf(SEEN);
            SEEN.clear();
            throw new AssertionError(seen.size() + " exception(s) reached the tail of a pipeline in "
                    + context.getDisplayName() + ": " + seen);
        }
    }
}
