package io.meshgate.gateway.transport;

import io.netty.channel.IoHandle;
import io.netty.channel.IoHandler;
import io.netty.channel.IoHandlerContext;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.IoOps;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.concurrent.ThreadAwareExecutor;

/**
 * Keeps a channel's descriptor in the epoll set until the channel is deregistered, so it is
 * removed exactly once. Netty 4.2.18's epoll registration removes a descriptor
 * ({@code EPOLL_CTL_DEL}) as soon as the channel wants no event at all, which a half-closed
 * channel reaches once its EOF is read (EPOLLRDHUP and then EPOLLIN cleared), but does not record
 * the removal: the close then removes it again, the kernel answers ENOENT and Netty builds a
 * {@code NativeIoException} with a full stack trace, once per connection that ends in a half-close
 * (every close1k connection). A later re-arm of reading on such a channel fails the same way
 * ({@code EPOLL_CTL_MOD}, ENOENT).
 *
 * <p>Here "no event" parks the descriptor instead: {@code EPOLL_CTL_MOD} with only
 * {@code EPOLLONESHOT}, which asks for nothing, and which turns the descriptor off after at most
 * one EPOLLERR/EPOLLHUP report (the kernel reports those whatever the mask; the channel's handler
 * ignores a bare hang-up and treats an error as it would on any registered channel). The same
 * number of system calls as before, the close's {@code EPOLL_CTL_DEL} succeeds, and re-arming
 * reading later is an ordinary {@code EPOLL_CTL_MOD}.
 *
 * <p>It also skips a submit of the interest the kernel already has: Netty re-submits the same
 * interest when a connect completes, one {@code EPOLL_CTL_MOD} per upstream connection that
 * changes nothing (the set is level-triggered, so a ready descriptor is reported either way).
 */
final class ParkedEpollInterest implements IoHandler {

    /** {@code EPOLLONESHOT} from {@code <sys/epoll.h>} (Linux ABI; Netty's Native does not export it). */
    static final int EPOLLONESHOT = 1 << 30;
    private static final EpollIoOps PARKED = EpollIoOps.valueOf(EPOLLONESHOT);

    private final IoHandler epoll;

    private ParkedEpollInterest(IoHandler epoll) {
        this.epoll = epoll;
    }

    /** Wraps Netty's epoll handler factory. */
    static IoHandlerFactory wrap(IoHandlerFactory epoll) {
        return new IoHandlerFactory() {
            @Override
            public IoHandler newHandler(ThreadAwareExecutor executor) {
                return new ParkedEpollInterest(epoll.newHandler(executor));
            }

            @Override
            public boolean isChangingThreadSupported() {
                return epoll.isChangingThreadSupported();
            }
        };
    }

    @Override
    public IoRegistration register(IoHandle handle) throws Exception {
        return new Registration(epoll.register(handle));
    }

    @Override
    public void initialize() {
        epoll.initialize();
    }

    @Override
    public int run(IoHandlerContext context) {
        return epoll.run(context);
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

    /** One channel's registration; used on its event loop only, like Netty's. */
    private static final class Registration implements IoRegistration {
        private static final int NOT_ADDED = -1;

        private final IoRegistration epoll;
        /** The interest the kernel has for the descriptor; {@link #NOT_ADDED} until Netty first adds it. */
        private int interest = NOT_ADDED;

        Registration(IoRegistration epoll) {
            this.epoll = epoll;
        }

        @Override
        public long submit(IoOps ops) {
            int wanted = ((EpollIoOps) ops).value();
            if (wanted == 0) { // EpollIoOps.NONE
                if (interest == NOT_ADDED) {
                    return epoll.submit(ops); // never added: Netty makes no call for it
                }
                wanted = EPOLLONESHOT; // added: park it rather than remove it
            }
            if (wanted == interest && epoll.isValid()) {
                // The kernel already has this interest (Netty re-submits it after a connect, for one).
                return interest == EPOLLONESHOT ? 0 : interest;
            }
            long submitted = epoll.submit(wanted == EPOLLONESHOT ? PARKED : ops);
            if (submitted >= 0) {
                interest = wanted;
            }
            return submitted == EPOLLONESHOT ? 0 : submitted;
        }

        @Override
        public <T> T attachment() {
            return epoll.attachment();
        }

        @Override
        public boolean isValid() {
            return epoll.isValid();
        }

        @Override
        public boolean cancel() {
            return epoll.cancel();
        }
    }
}
