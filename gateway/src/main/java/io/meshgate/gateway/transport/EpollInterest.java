package io.meshgate.gateway.transport;

import io.netty.channel.AbstractChannel;
import io.netty.channel.Channel;
import io.netty.channel.IoEvent;
import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.AbstractEpollServerChannel;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.concurrent.ThreadAwareExecutor;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Netty's epoll handler with the interest of each descriptor kept by the event loop and handed to
 * the kernel once per loop turn: what a channel asks for while its events are handled is applied
 * just before the loop waits again, and only if it differs from what the kernel already has.
 * A short relayed connection otherwise changes its interest several times per turn (a connect
 * completes: stop waiting for EPOLLOUT, then start reading; accepted: register, then start
 * reading), one {@code epoll_ctl} each. The set is level-triggered, so applying the last interest
 * before the next wait is all the kernel needs to report the same events.
 *
 * <p>It also keeps a descriptor in the epoll set until its channel is deregistered, so it is
 * removed exactly once. Netty 4.2.18 removes a descriptor ({@code EPOLL_CTL_DEL}) as soon as its
 * channel wants no event at all, which a half-closed channel reaches once its EOF is read
 * (EPOLLRDHUP and then EPOLLIN cleared), but does not record the removal: the close removes it
 * again, the kernel answers ENOENT and Netty builds a {@code NativeIoException} with a full stack
 * trace, once per connection that ends in a half-close (every close1k connection); a later re-arm of
 * reading fails the same way ({@code EPOLL_CTL_MOD}, ENOENT). Here "no event" parks the descriptor
 * instead: {@code EPOLL_CTL_MOD} with only {@code EPOLLONESHOT}, which asks for nothing and turns
 * the descriptor off after at most one EPOLLERR/EPOLLHUP report (the kernel reports those whatever
 * the mask; the channel ignores a bare hang-up and handles an error as on any registered channel).
 *
 * <p>Last, a channel's plain read events (EPOLLIN and nothing else) can go to a {@link ReadHook}
 * first ({@link #hookReads}): the relay reads and sends a small message itself there, without
 * Netty's read loop and pipeline, and leaves every other case to the channel.
 */
public final class EpollInterest implements IoHandler {

    private static final Logger log = LoggerFactory.getLogger(EpollInterest.class);

    /** {@code EPOLLONESHOT} from {@code <sys/epoll.h>} (Linux ABI; Netty's Native does not export it). */
    static final int EPOLLONESHOT = 1 << 30;
    private static final EpollIoOps PARKED = EpollIoOps.valueOf(EPOLLONESHOT);
    private static final int NOT_ADDED = -1;
    /** What Netty's registration returns for a change once it is cancelled. */
    private static final long CANCELLED = -1;
    private static final int EPOLLIN = EpollIoOps.EPOLLIN.value();

    /**
     * Netty 4.2.18's inner classes this reaches into; absent (null): no hooks, channels read as usual.
     * {@code REGISTRATION}: an epoll channel's (stream or server) registration, taking any {@code Channel}.
     */
    private static final MethodHandle REGISTRATION;
    /** The handler of the current event loop thread (set in {@link #initialize}). */
    private static final io.netty.util.concurrent.FastThreadLocal<EpollInterest> CURRENT = new io.netty.util.concurrent.FastThreadLocal<>();
    private static final Class<?> WRAPPED_OWNER;
    private static final VarHandle WRAPPED;
    /** A channel's {@code Unsafe} (the handle Netty registers) to its channel; absent (null): descriptors are removed before they close. */
    private static final VarHandle UNSAFE_CHANNEL;
    private static final Class<?> UNSAFE;
    /** {@code AbstractEpollChannel.inputClosedSeenErrorOnRead}; absent (null): a finished input keeps EPOLLIN until Netty clears it. */
    private static final VarHandle INPUT_FINISHED;

    static {
        MethodHandle registration = null;
        Class<?> owner = null;
        VarHandle wrapped = null;
        try {
            Class<?> channel = AbstractEpollStreamChannel.class.getSuperclass(); // AbstractEpollChannel
            registration = MethodHandles.privateLookupIn(channel, MethodHandles.lookup())
                    .findVirtual(channel, "registration", MethodType.methodType(IoRegistration.class))
                    .asType(MethodType.methodType(IoRegistration.class, Channel.class)); // callers check the channel's class
            owner = Class.forName("io.netty.channel.SingleThreadIoEventLoop$IoRegistrationWrapper");
            wrapped = MethodHandles.privateLookupIn(owner, MethodHandles.lookup()).findVarHandle(owner, "registration", IoRegistration.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.debug("read hooks unavailable (Netty's epoll channel or event loop changed): {}", e.toString());
            wrapped = null;
        }
        REGISTRATION = registration;
        WRAPPED_OWNER = owner;
        WRAPPED = wrapped;
        VarHandle unsafeChannel = null;
        Class<?> unsafe = null;
        try {
            // The unsafe is an inner class of AbstractChannel: javac's field for its enclosing channel.
            unsafe = Class.forName("io.netty.channel.AbstractChannel$AbstractUnsafe");
            unsafeChannel = MethodHandles.privateLookupIn(unsafe, MethodHandles.lookup())
                    .findVarHandle(unsafe, "this$0", AbstractChannel.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.debug("descriptors are removed from epoll before they close (Netty's channel changed): {}", e.toString());
        }
        UNSAFE = unsafe;
        UNSAFE_CHANNEL = unsafeChannel;
        VarHandle inputFinished = null;
        try {
            Class<?> channel = AbstractEpollStreamChannel.class.getSuperclass(); // AbstractEpollChannel
            inputFinished = MethodHandles.privateLookupIn(channel, MethodHandles.lookup())
                    .findVarHandle(channel, "inputClosedSeenErrorOnRead", boolean.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.debug("a finished input keeps its read interest one turn longer (Netty's epoll channel changed): {}", e.toString());
        }
        INPUT_FINISHED = inputFinished;
    }

    /**
     * True when {@code ch}'s input is finished for good: shut down, with its end of stream read and
     * reported. Netty 4.2.18 keeps EPOLLIN in such a channel's interest when it reads on (autoRead),
     * and only clears it at the next read event, which the kernel reports at once (a finished input is
     * always readable): an {@code epoll_ctl} and a loop turn per connection whose peer closed first.
     * Such a channel never reads again (its read event only clears the interest), so the kernel need
     * not be asked for it.
     */
    private static boolean inputFinished(Channel ch) {
        return INPUT_FINISHED != null && ch instanceof AbstractEpollStreamChannel epoll && epoll.isInputShutdown()
                && (boolean) INPUT_FINISHED.get(epoll);
    }

    /** The channel whose {@code Unsafe} is {@code handle}, or null. */
    private static Channel channelOf(IoHandle handle) {
        return UNSAFE_CHANNEL != null && UNSAFE.isInstance(handle) ? (Channel) UNSAFE_CHANNEL.get(handle) : null;
    }

    /**
     * Takes a channel's plain read events before the channel does. Runs on the channel's event
     * loop; returns true when it handled the event (the channel does not see it), false to leave it
     * to the channel as if there were no hook (so it must not have consumed anything then).
     */
    public interface ReadHook {
        boolean readReady();
    }

    private final IoHandler epoll;
    private final ThreadAwareExecutor loop;
    /** Registrations whose interest changed this turn (event loop only). */
    private final ArrayDeque<Registration> changed = new ArrayDeque<>();
    /** Counts the loop's waits: events come from the wait of this turn (event loop only). */
    private long turn;

    private EpollInterest(IoHandler epoll, ThreadAwareExecutor loop) {
        this.epoll = epoll;
        this.loop = loop;
    }

    /** Wraps Netty's epoll handler factory. */
    static IoHandlerFactory wrap(IoHandlerFactory epoll) {
        return new IoHandlerFactory() {
            @Override
            public IoHandler newHandler(ThreadAwareExecutor executor) {
                return new EpollInterest(epoll.newHandler(executor), executor);
            }

            /**
             * No: meshgate's loops never suspend or hand their handler to another thread, and this
             * handler keeps per-loop state. Saying so also stops Netty timing every loop turn for
             * the suspension heuristics (two clock reads per turn, some 3 % of the relay's user CPU
             * on small requests).
             */
            @Override
            public boolean isChangingThreadSupported() {
                return false;
            }
        };
    }

    @Override
    public int run(IoHandlerContext context) {
        applyChanges(); // before the wait, so it reports events for the interest asked for
        turn++;
        return epoll.run(context);
    }

    private void applyChanges() {
        Registration r;
        while ((r = changed.poll()) != null) {
            r.apply();
        }
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        if (handle instanceof EpollIoHandle channel) {
            Hooked hooked = new Hooked(channel);
            return new Registration(epoll.register(hooked), handle, hooked, channelOf(handle));
        }
        return new Registration(epoll.register(handle), handle, null, null);
    }

    /**
     * Gives {@code ch}'s plain read events to {@code hook} first, from now on (event loop only):
     * a stream channel's (data to read), or a server channel's (a connection to accept); false when
     * {@code ch} is neither or does not run on an event loop of this handler (nothing changes then).
     */
    public static boolean hookReads(Channel ch, ReadHook hook) {
        if (WRAPPED == null || !(ch instanceof AbstractEpollStreamChannel || ch instanceof AbstractEpollServerChannel)
                || !ch.eventLoop().inEventLoop()) {
            return false;
        }
        Object registration;
        try {
            registration = (IoRegistration) REGISTRATION.invokeExact(ch);
        } catch (Throwable e) {
            return false;
        }
        if (WRAPPED_OWNER.isInstance(registration)) { // Netty's event loop hands channels its wrapper of ours
            registration = (Object) WRAPPED.get(registration);
        }
        if (registration instanceof Registration r && r.hooked != null && r.isValid()) {
            r.hooked.hook = hook;
            return true;
        }
        return false;
    }

    /**
     * Direct passthrough: registers {@code handle} with the handler of the calling
     * event loop thread, without the event loop's promise and registration wrapper; its interest
     * changes are queued like a channel's. Null when the calling thread is not an event loop of
     * this handler. Cancel closes nothing: close the descriptor first, then cancel (no EPOLL_CTL_DEL).
     */
    public static IoRegistration registerDirect(EpollIoHandle handle) throws Exception {
        EpollInterest current = CURRENT.getIfExists();
        if (current == null) {
            return null;
        }
        return current.new Registration(current.epoll.register(handle), handle, null, null);
    }

    /**
     * True when an event handed to the holder of {@code registration} (one of this handler's) is
     * stale: the wait that reported it came before the descriptor was added to the epoll set, so it
     * was about an earlier socket that had the same descriptor number. A loop turn that closes a
     * socket and then opens one (an accept, a connect) gets the lowest free number again, and the
     * closed socket's own events of that turn, later in the batch, are then handed to the new one
     * (Netty finds the registration by number): a connecting channel closed by a hang-up that was
     * not its own, a connect taken for finished. Dropping them loses nothing: the new socket's own
     * state is reported by the next wait, which follows its addition.
     */
    public static boolean stale(IoRegistration registration) {
        return registration instanceof Registration r && r.stale();
    }

    /** What the kernel's events for one channel go to: its hook for plain reads, if any, else the channel. */
    private static final class Hooked implements EpollIoHandle {
        private final EpollIoHandle channel;
        /** Event loop only. */
        private ReadHook hook;
        /** Set once, right after Netty's registration. */
        private Registration registration;

        Hooked(EpollIoHandle channel) {
            this.channel = channel;
        }

        @Override
        public FileDescriptor fd() {
            return channel.fd();
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            if (this.registration != null && this.registration.stale()) {
                return; // an earlier socket's, of the same descriptor number
            }
            ReadHook h = hook;
            if (h != null && ((EpollIoEvent) event).ops().value() == EPOLLIN && h.readReady()) {
                return;
            }
            channel.handle(registration, event);
        }

        @Override
        public void close() throws Exception {
            channel.close();
        }

        @Override
        public String toString() {
            return channel.toString();
        }
    }

    @Override
    public void initialize() {
        epoll.initialize();
        CURRENT.set(this);
    }

    @Override
    public void prepareToDestroy() {
        epoll.prepareToDestroy();
    }

    @Override
    public void destroy() {
        epoll.destroy();
    }

    @Override
    public void wakeup() {
        epoll.wakeup();
    }

    @Override
    public boolean isCompatible(Class<? extends IoHandle> handleType) {
        return epoll.isCompatible(handleType);
    }

    /** One channel's registration. */
    private final class Registration implements IoRegistration {
        private final IoRegistration epoll;
        private final IoHandle handle;
        /** The channel's side of the registration with Netty's handler (null for a non-epoll handle). */
        private final Hooked hooked;
        /** The registered channel (null: not a channel, or not reachable on this Netty version). */
        private final Channel channel;
        /** The interest the kernel has; {@link #NOT_ADDED} until the descriptor is first added. */
        private int kernel = NOT_ADDED;
        /**
         * The {@link #turn} in which the descriptor was added (before that turn's wait, or during its
         * events); {@link Long#MAX_VALUE} until then, {@link Long#MIN_VALUE} if added from another
         * thread (while the loop may be waiting: its events are never taken for stale).
         */
        private long addedTurn = Long.MAX_VALUE;
        /** The interest to give the kernel at the end of the turn ({@code NONE}: not added, or parked). */
        private EpollIoOps wanted = EpollIoOps.NONE;
        private boolean queued;

        Registration(IoRegistration epoll, IoHandle handle, Hooked hooked, Channel channel) {
            this.epoll = epoll;
            this.handle = handle;
            this.hooked = hooked;
            this.channel = channel;
            if (hooked != null) {
                hooked.registration = this;
            }
        }

        /** Whether an event of this turn came from a wait before the descriptor was added (see {@link EpollInterest#stale}). */
        boolean stale() {
            return addedTurn >= turn;
        }

        @Override
        public long submit(IoOps ops) {
            EpollIoOps epollOps = (EpollIoOps) ops;
            if (!loop.isExecutorThread(Thread.currentThread())) {
                // Not ours to queue (Netty makes its own changes on the loop; this is a safety net):
                // apply at once, and make a change still queued from the loop apply this one too.
                wanted = epollOps;
                return submitNow(epollOps);
            }
            if (!epoll.isValid()) {
                return -1;
            }
            wanted = epollOps;
            if (!queued) {
                queued = true;
                changed.add(this);
            }
            return epollOps.value();
        }

        /** Gives the kernel the wanted interest if it differs from what it has. */
        void apply() {
            queued = false;
            if (epoll.isValid()) {
                try {
                    submitNow(wanted);
                } catch (UncheckedIOException e) {
                    // Something is wrong with the descriptor or the epoll set: as Netty does for a failed change.
                    log.debug("epoll_ctl failed for {}; closing it: {}", handle, e.getCause().toString());
                    close(handle);
                }
            }
        }

        private long submitNow(EpollIoOps ops) {
            EpollIoOps target = ops;
            if (channel != null && target.contains(EpollIoOps.EPOLLIN) && inputFinished(channel)) {
                target = target.without(EpollIoOps.EPOLLIN); // it would only clear the interest
            }
            if (target.value() == 0) { // EpollIoOps.NONE
                if (kernel == NOT_ADDED) {
                    return ops.value(); // never added: nothing to take away
                }
                target = PARKED; // added: park it rather than remove it
            }
            if (target.value() == kernel) {
                return ops.value();
            }
            // Netty returns the interest's value (negative with EPOLLET, bit 31), or -1 once cancelled.
            long submitted = epoll.submit(target);
            if (submitted != CANCELLED) {
                if (kernel == NOT_ADDED) {
                    addedTurn = loop.isExecutorThread(Thread.currentThread()) ? turn : Long.MIN_VALUE;
                }
                kernel = target.value();
            }
            return submitted == CANCELLED ? submitted : ops.value();
        }

        private static void close(IoHandle handle) {
            try {
                handle.close();
            } catch (Exception e) {
                log.debug("closing {} failed: {}", handle, e.toString());
            }
        }

        @Override
        public boolean cancel() {
            if (queued && kernel == NOT_ADDED && loop.isExecutorThread(Thread.currentThread())
                    && (!(handle instanceof EpollIoHandle h) || h.fd().isOpen())) { // closed first: never to be added
                // Netty removes the descriptor at cancel whether or not it was ever added; add it
                // first as it would have been, so that removal succeeds (no ENOENT, no exception).
                apply();
            }
            closeFirstIfClosing();
            return epoll.cancel();
        }

        /**
         * A channel's close cancels its registration just before it closes the descriptor, and
         * Netty's cancel removes a descriptor that is still open ({@code EPOLL_CTL_DEL}): a system call
         * per socket, two per relayed connection, which the close makes anyway (a closed descriptor
         * leaves every epoll set; meshgate neither forks nor duplicates sockets). When the cancel is
         * a close's (the channel is no longer active, and it is on its loop), the descriptor is
         * closed here first; the channel's own close then finds it closed. meshgate never
         * deregisters a channel other than by closing it; an active channel is removed as before.
         */
        private void closeFirstIfClosing() {
            if (channel != null && hooked != null && !channel.isActive() && epoll.isValid()
                    && loop.isExecutorThread(Thread.currentThread())) {
                try {
                    hooked.fd().close();
                } catch (java.io.IOException e) {
                    log.debug("closing {} failed: {}", handle, e.toString()); // Netty's close reports it again
                }
            }
        }

        @Override
        public <T> T attachment() {
            return epoll.attachment();
        }

        @Override
        public boolean isValid() {
            return epoll.isValid();
        }
    }
}
