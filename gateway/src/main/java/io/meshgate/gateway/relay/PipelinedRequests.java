package io.meshgate.gateway.relay;

import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpObject;
import io.netty.util.ReferenceCountUtil;
import java.util.ArrayDeque;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The pipelining rule of the HTTP/1.1 proxies (terminate's {@code HttpProxyHandler}, h2's
 * {@code Http1ToH2}): one exchange at a time. Request parts that arrive once the exchange in
 * flight has read its whole request (its response is still coming), or while earlier parts wait,
 * are held here in arrival order and the client's reads pause; when the exchange ends with the
 * connection kept, they are handed on until one of them fills an exchange again. Responses
 * therefore leave in request order, as RFC 9112 section 9.3.2 requires. Touched on the
 * downstream's event loop only.
 */
public final class PipelinedRequests {

    private final ArrayDeque<HttpObject> waiting = new ArrayDeque<>();

    /**
     * Holds {@code part} if it may not go on now: {@code requestRead} (the exchange in flight has
     * its whole request) or earlier parts waiting. Pauses {@code downstream}'s reads when it holds.
     *
     * @return whether the part was held (the caller handles it otherwise)
     */
    public boolean hold(Channel downstream, HttpObject part, boolean requestRead) {
        if (!requestRead && waiting.isEmpty()) {
            return false;
        }
        waiting.add(part);
        Reading.set(downstream, false);
        return true;
    }

    /**
     * Hands held parts to {@code next} in order while {@code busy} is false (busy: an exchange has
     * read its whole request again, or the connection is closing). The caller decides about reads.
     */
    public void resume(Consumer<HttpObject> next, BooleanSupplier busy) {
        while (!waiting.isEmpty() && !busy.getAsBoolean()) {
            next.accept(waiting.poll());
        }
    }

    public boolean isEmpty() {
        return waiting.isEmpty();
    }

    /** Releases every held part (the connection ends). */
    public void release() {
        waiting.forEach(ReferenceCountUtil::release);
        waiting.clear();
    }
}
