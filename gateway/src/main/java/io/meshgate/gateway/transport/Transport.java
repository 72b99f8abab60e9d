package io.meshgate.gateway.transport;

import io.meshgate.gateway.config.GatewaySpec;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.ReflectiveChannelFactory;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SelectStrategyFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketProtocolFamily;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.nio.channels.spi.SelectorProvider;
import java.time.Duration;

/**
 * The Netty transport the gateway runs on: native epoll where the OS allows (the only one with
 * socket-to-socket splice), io_uring on request, NIO everywhere else.
 */
public record Transport(String name, IoHandlerFactory ioHandlerFactory,
                        Class<? extends ServerChannel> serverChannel,
                        Class<? extends DuplexChannel> socketChannel,
                        boolean canSplice,
                        Duration busyPoll,
                        boolean adaptivePoll) {

    /**
     * SO_KEEPALIVE as a raw option ({@code SOL_SOCKET}=1, {@code SO_KEEPALIVE}=9 on Linux): Netty's
     * typed option exists for connected sockets only, but on the listening socket Linux copies it to
     * every socket it accepts, which saves one setsockopt per connection.
     */
    private static final IntegerUnixChannelOption LISTENER_KEEPALIVE = new IntegerUnixChannelOption("SO_KEEPALIVE", 1, 9);

    /** Upstream sockets for IPv4 endpoints on epoll: AF_INET, not Netty's dual-stack AF_INET6. */
    private static final ChannelFactory<EpollSocketChannel> EPOLL_INET =
            () -> new EpollSocketChannel(SocketProtocolFamily.INET);

    public static Transport epoll() {
        return epoll(Duration.ZERO, false);
    }

    /**
     * Native epoll; a positive {@code busyPoll} makes each loop poll that long after work before it
     * blocks, every time, or with {@code adaptive} only while such windows catch events.
     */
    public static Transport epoll(Duration busyPoll, boolean adaptive) {
        IoHandlerFactory factory = EpollInterest.wrap(busyPoll.isZero() ? EpollIoHandler.newFactory()
                : EpollIoHandler.newFactory(0, busyPollStrategy(busyPoll, adaptive)));
        return new Transport("epoll", factory, EpollServerSocketChannel.class, EpollSocketChannel.class, true, busyPoll,
                adaptive && !busyPoll.isZero());
    }

    public static Transport ioUring() {
        return new Transport("io_uring", IoUringIoHandler.newFactory(), IoUringServerSocketChannel.class,
                IoUringSocketChannel.class, false, Duration.ZERO, false);
    }

    public static Transport nio() {
        return nio(Duration.ZERO, false);
    }

    /** Java NIO; {@code busyPoll} and {@code adaptive} as for {@link #epoll(Duration, boolean)}. */
    public static Transport nio(Duration busyPoll, boolean adaptive) {
        IoHandlerFactory factory = busyPoll.isZero() ? NioIoHandler.newFactory()
                : NioIoHandler.newFactory(SelectorProvider.provider(), busyPollStrategy(busyPoll, adaptive));
        return new Transport("nio", factory, NioServerSocketChannel.class, NioSocketChannel.class, false, busyPoll,
                adaptive && !busyPoll.isZero());
    }

    /** One strategy per event loop (the adaptive one keeps its loop's score). */
    private static SelectStrategyFactory busyPollStrategy(Duration window, boolean adaptive) {
        long nanos = window.toNanos();
        return adaptive ? () -> new AdaptivePollSelectStrategy(nanos) : () -> new BusyPollSelectStrategy(nanos);
    }

    /**
     * The transport a config asks for; {@code auto} prefers epoll, then NIO. {@code busyPoll} is zero
     * for io_uring (the config refuses anything else: its loop has no poll strategy to plug into).
     */
    public static Transport select(GatewaySpec.TransportKind wanted, Duration busyPoll, boolean adaptive) {
        return switch (wanted) {
            case EPOLL -> {
                Epoll.ensureAvailability();
                yield epoll(busyPoll, adaptive);
            }
            case IO_URING -> {
                IoUring.ensureAvailability();
                yield ioUring();
            }
            case NIO -> nio(busyPoll, adaptive);
            case AUTO -> Epoll.isAvailable() ? epoll(busyPoll, adaptive) : nio(busyPoll, adaptive);
        };
    }

    /** The name as logs show it, with the busy-poll window when there is one. */
    public String describe() {
        return busyPoll.isZero() ? name
                : name + " (busy-poll " + (adaptivePoll ? "auto, " : "") + busyPoll.toNanos() / 1000 + "us)";
    }

    /**
     * A listening socket (not yet registered or bound) with the options every accepted connection
     * can inherit from it: on epoll SO_KEEPALIVE is set once on the listener (the kernel copies it to
     * each accepted socket); elsewhere {@link #childOptions} sets it on each accepted socket.
     * TCP_NODELAY is set by neither: every Netty transport enables it on its sockets by default
     * (setting it again cost one more setsockopt per socket).
     */
    public ServerChannel newServerChannel() {
        ServerChannel channel = new ReflectiveChannelFactory<>(serverChannel).newChannel();
        if (keepAliveInherited()) {
            channel.config().setOption(LISTENER_KEEPALIVE, 1);
        }
        return channel;
    }

    /** The options an accepted connection does not inherit from {@link #newServerChannel}'s socket. */
    public void childOptions(ChannelConfig accepted) {
        if (!keepAliveInherited()) {
            accepted.setOption(ChannelOption.SO_KEEPALIVE, true);
        }
    }

    private boolean keepAliveInherited() {
        return serverChannel == EpollServerSocketChannel.class;
    }

    /**
     * Makes the socket for an upstream connection to {@code remote}. On epoll an IPv4 endpoint gets
     * an AF_INET socket: Netty's default is an AF_INET6 socket with IPV6_V6ONLY cleared, one
     * setsockopt more per connection for the same IPv4-mapped connect.
     */
    public ChannelFactory<? extends DuplexChannel> upstreamChannels(InetSocketAddress remote) {
        if (socketChannel == EpollSocketChannel.class && remote.getAddress() instanceof Inet4Address) {
            return EPOLL_INET;
        }
        return new ReflectiveChannelFactory<>(socketChannel);
    }

    /** Event loops of this transport; on epoll they wait without a timeout while nothing is scheduled ({@link UntimedWaitLoop}). */
    public EventLoopGroup newGroup(int threads, String threadName) {
        DefaultThreadFactory factory = new DefaultThreadFactory(threadName, true);
        return serverChannel == EpollServerSocketChannel.class ? UntimedWaitLoop.group(threads, factory, ioHandlerFactory)
                : new MultiThreadIoEventLoopGroup(threads, factory, ioHandlerFactory);
    }
}
