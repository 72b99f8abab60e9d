package io.meshgate.gateway.transport;

import io.netty.channel.IoEventLoop;
import io.netty.channel.IoEventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SingleThreadIoEventLoop;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;

/**
 * An event loop that waits for I/O without a timeout while nothing is scheduled on it. Netty 4.2
 * gives its I/O handler a deadline of "now + 1 s" when the loop's schedule is empty, which costs a
 * clock read every loop turn and a new timeout for the kernel every wait (Netty's epoll handler
 * keeps the previous timeout only when the deadline is unchanged); 4.1 waited without one. A
 * relaying loop has nothing scheduled (idle checks run from a timer thread), so each turn is one
 * {@code epoll_wait} without a timeout. A task scheduled later is seen before the next wait: from
 * the loop itself, or through the task queue, which wakes the loop.
 */
final class UntimedWaitLoop extends SingleThreadIoEventLoop {

    private UntimedWaitLoop(IoEventLoopGroup parent, Executor executor, IoHandlerFactory handler) {
        super(parent, executor, handler);
    }

    @Override
    protected long deadlineNanos() {
        return nextScheduledTaskDeadlineNanos(); // -1 when nothing is scheduled: "no deadline" to the I/O handler
    }

    /** A group of such loops. */
    static MultiThreadIoEventLoopGroup group(int threads, ThreadFactory threadFactory, IoHandlerFactory handler) {
        return new MultiThreadIoEventLoopGroup(threads, threadFactory, handler) {
            @Override
            protected IoEventLoop newChild(Executor executor, IoHandlerFactory ioHandlerFactory, Object... args) {
                return new UntimedWaitLoop(this, executor, ioHandlerFactory);
            }
        };
    }
}
