package io.meshgate.gateway.direct;

import io.netty.channel.epoll.Native;
import io.netty.channel.unix.Errors;
import io.netty.channel.unix.Socket;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;

/**
 * Netty's socket system calls on a bare descriptor number, through the private static natives of
 * {@link Socket} (and {@code splice} of epoll's {@code Native}). A {@code Socket} object costs a {@code getsockname} at construction
 * (its IPv6 flag); these need none. Every call returns the kernel's answer: a count, or a negative
 * errno ({@link Errors}'s {@code ERRNO_*_NEGATIVE}).
 */
final class RawSocket {

    static final int EAGAIN = Errors.ERRNO_EAGAIN_NEGATIVE;
    static final int EWOULDBLOCK = Errors.ERRNO_EWOULDBLOCK_NEGATIVE;
    static final int EINPROGRESS = Errors.ERRNO_EINPROGRESS_NEGATIVE;

    private static final MethodHandle RECV;
    private static final MethodHandle SEND;
    private static final MethodHandle SHUTDOWN;
    private static final MethodHandle CONNECT;
    private static final MethodHandle FINISH_CONNECT;
    private static final MethodHandle NEW_STREAM;
    private static final MethodHandle SET_NODELAY;
    private static final MethodHandle SET_KEEPALIVE;
    private static final MethodHandle SPLICE;
    /** Why the natives are not reachable (another Netty version), or null when they are. */
    private static final String UNAVAILABLE;

    static {
        MethodHandle[] h = new MethodHandle[9];
        String why = null;
        try {
            MethodHandles.Lookup l = MethodHandles.privateLookupIn(Socket.class, MethodHandles.lookup());
            h[0] = l.findStatic(Socket.class, "recvAddress", MethodType.methodType(int.class, int.class, long.class, int.class, int.class));
            h[1] = l.findStatic(Socket.class, "sendAddress", MethodType.methodType(int.class, int.class, long.class, int.class, int.class));
            h[2] = l.findStatic(Socket.class, "shutdown", MethodType.methodType(int.class, int.class, boolean.class, boolean.class));
            h[3] = l.findStatic(Socket.class, "connect", MethodType.methodType(int.class, int.class, boolean.class, byte[].class, int.class, int.class));
            h[4] = l.findStatic(Socket.class, "finishConnect", MethodType.methodType(int.class, int.class));
            h[5] = l.findStatic(Socket.class, "newSocketStreamFd", MethodType.methodType(int.class, boolean.class));
            h[6] = l.findStatic(Socket.class, "setTcpNoDelay", MethodType.methodType(void.class, int.class, int.class));
            h[7] = l.findStatic(Socket.class, "setKeepAlive", MethodType.methodType(void.class, int.class, int.class));
            // Native.splice maps EAGAIN to 0, the same answer as a socket's end of stream: the raw native tells them apart.
            MethodHandles.Lookup n = MethodHandles.privateLookupIn(Native.class, MethodHandles.lookup());
            h[8] = n.findStatic(Native.class, "splice0",
                    MethodType.methodType(int.class, int.class, long.class, int.class, long.class, long.class));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            why = e.toString();
        }
        RECV = h[0];
        SEND = h[1];
        SHUTDOWN = h[2];
        CONNECT = h[3];
        FINISH_CONNECT = h[4];
        NEW_STREAM = h[5];
        SET_NODELAY = h[6];
        SET_KEEPALIVE = h[7];
        SPLICE = h[8];
        UNAVAILABLE = why;
    }

    /**
     * Null when every native this class calls was found; else why not (a Netty version whose private
     * natives differ): the listeners then keep their Netty pipelines.
     */
    static String unavailable() {
        return UNAVAILABLE;
    }

    private RawSocket() {
    }

    static boolean again(int res) {
        return res == EAGAIN || res == EWOULDBLOCK;
    }

    /** recv into {@code address + pos} up to {@code limit}: bytes (&gt; 0), 0 at end of stream, or -errno. */
    static int recv(int fd, long address, int pos, int limit) {
        try {
            return (int) RECV.invokeExact(fd, address, pos, limit);
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    /** send from {@code address + pos} up to {@code limit}: bytes, or -errno. */
    static int send(int fd, long address, int pos, int limit) {
        try {
            return (int) SEND.invokeExact(fd, address, pos, limit);
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    static int shutdownOutput(int fd) {
        try {
            return (int) SHUTDOWN.invokeExact(fd, false, true);
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    /** 0 connected; EINPROGRESS; other -errno: failed. {@code address}: 16 bytes (IPv4-mapped for IPv4). */
    static int connect(int fd, boolean ipv6, byte[] address, int scopeId, int port) {
        try {
            return (int) CONNECT.invokeExact(fd, ipv6, address, scopeId, port);
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    /** 0 when the socket has no pending error (SO_ERROR, which it clears), else -error. */
    static int finishConnect(int fd) {
        try {
            return (int) FINISH_CONNECT.invokeExact(fd);
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    /** A non-blocking, close-on-exec TCP socket: its descriptor, or -errno. */
    static int newStream(boolean ipv6) {
        try {
            return (int) NEW_STREAM.invokeExact(ipv6);
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    static void setTcpNoDelay(int fd) throws java.io.IOException {
        turnOn(SET_NODELAY, fd);
    }

    static void setKeepAlive(int fd) throws java.io.IOException {
        turnOn(SET_KEEPALIVE, fd);
    }

    /** Sets a boolean socket option, {@code setter} being one of Socket's {@code (int fd, int value)} natives. */
    private static void turnOn(MethodHandle setter, int fd) throws java.io.IOException {
        try {
            setter.invokeExact(fd, 1);
        } catch (java.io.IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * splice(2) of up to {@code len} bytes from {@code in} to {@code out} (one of them a pipe),
     * non-blocking ({@code SPLICE_F_NONBLOCK | SPLICE_F_MOVE}): bytes moved, 0 at a socket's end of
     * stream, or -errno (EAGAIN: nothing to move now).
     */
    static int splice(int in, int out, int len) {
        try {
            return (int) SPLICE.invokeExact(in, -1L, out, -1L, (long) len);
        } catch (Throwable e) {
            throw rethrow(e);
        }
    }

    /** A readable description of {@code -errno} (for debug logs). */
    static String describe(String call, int res) {
        return new Errors.NativeIoException(call, res, false).getMessage();
    }

    private static RuntimeException rethrow(Throwable e) {
        if (e instanceof RuntimeException r) {
            throw r;
        }
        if (e instanceof Error err) {
            throw err;
        }
        throw new IllegalStateException(e);
    }
}
