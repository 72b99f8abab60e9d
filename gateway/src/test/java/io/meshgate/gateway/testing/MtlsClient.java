package io.meshgate.gateway.testing;

import io.meshgate.tls.OutboundServerName;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A source pod's sidecar for the terminate tests: BoringSSL with a client certificate (or none),
 * the {@code outbound_...} SNI set verbatim, and blocking helpers to speak raw bytes or HTTP/1.1
 * over the connection. Owns its context and event loop; close it.
 */
public final class MtlsClient implements AutoCloseable {

    private final SslContext context;
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());

    public MtlsClient(SslContext context) {
        this.context = context;
    }

    /** Connects and runs the handshake (successful or not) to its end. */
    public Session connect(InetSocketAddress address, String sni) throws Exception {
        Session session = new Session();
        Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel c) {
                        SslHandler ssl = context.newHandler(c.alloc(), sni, 443);
                        OutboundServerName.apply(ssl.engine(), sni);
                        session.ssl = ssl;
                        c.pipeline().addLast(ssl, session);
                    }
                }).connect(address).sync().channel();
        session.channel = ch;
        session.ssl.handshakeFuture().await(10, TimeUnit.SECONDS);
        return session;
    }

    /** One connection: what arrived so far, whether it closed. */
    public static final class Session extends ChannelInboundHandlerAdapter implements AutoCloseable {
        private final ByteArrayOutputStream received = new ByteArrayOutputStream();
        private Channel channel;
        private SslHandler ssl;
        private boolean closed;
        private volatile Throwable failure;

        /** Null when the client's side of the handshake completed. */
        public Throwable handshakeFailure() {
            return ssl.handshakeFuture().cause();
        }

        public Session send(byte[] bytes) {
            channel.writeAndFlush(Unpooled.wrappedBuffer(bytes));
            return this;
        }

        public Session send(String text) {
            return send(text.getBytes(StandardCharsets.UTF_8));
        }

        /** Exactly {@code n} bytes (waits up to 10 s). */
        public synchronized byte[] read(int n) throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (received.size() < n) {
                if (closed) {
                    throw new IllegalStateException("closed after " + received.size() + " of " + n + " bytes");
                }
                waitUntil(deadline);
            }
            return take(n);
        }

        /** The next HTTP/1.1 response (Content-Length bodies), waiting up to 10 s. */
        public synchronized HttpAnswer response() throws Exception {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int end = -1;
            String[] lines = null;
            Map<String, String> headers = new LinkedHashMap<>();
            int length = 0;
            while (true) {
                if (end < 0) {
                    byte[] all = received.toByteArray();
                    end = indexOf(all, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    if (end >= 0) {
                        lines = new String(all, 0, end, StandardCharsets.ISO_8859_1).split("\r\n");
                        for (int i = 1; i < lines.length; i++) {
                            int colon = lines[i].indexOf(':');
                            headers.merge(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
                                    lines[i].substring(colon + 1).trim(), (a, b) -> a + "," + b);
                        }
                        length = Integer.parseInt(headers.getOrDefault("content-length", "0"));
                    }
                }
                if (end >= 0 && received.size() >= end + 4 + length) {
                    take(end + 4);
                    return new HttpAnswer(Integer.parseInt(lines[0].split(" ")[1]), headers, take(length));
                }
                if (closed) {
                    throw new IllegalStateException("closed without a complete response; got "
                            + new String(received.toByteArray(), StandardCharsets.ISO_8859_1));
                }
                waitUntil(deadline);
            }
        }

        /** True once the gateway closed the connection (waits up to 10 s). */
        public synchronized boolean awaitClosed() throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!closed && System.nanoTime() < deadline) {
                wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            }
            return closed;
        }

        /** True when the gateway ended its stream with a TLS close_notify (not just a FIN). */
        public boolean closeNotified() {
            return ssl.sslCloseFuture().isSuccess();
        }

        /** Bytes received and not taken yet. */
        public synchronized int available() {
            return received.size();
        }

        private void waitUntil(long deadline) throws InterruptedException, TimeoutException {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TimeoutException("nothing more within 10 s; have " + received.size() + " bytes");
            }
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }

        private byte[] take(int n) {
            byte[] all = received.toByteArray();
            received.reset();
            received.write(all, n, all.length - n);
            return Arrays.copyOf(all, n);
        }

        private static int indexOf(byte[] data, byte[] pattern) {
            outer:
            for (int i = 0; i <= data.length - pattern.length; i++) {
                for (int j = 0; j < pattern.length; j++) {
                    if (data[i + j] != pattern[j]) {
                        continue outer;
                    }
                }
                return i;
            }
            return -1;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            byte[] bytes = new byte[b.readableBytes()];
            b.readBytes(bytes);
            b.release();
            synchronized (this) {
                received.write(bytes, 0, bytes.length);
                notifyAll();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            synchronized (this) {
                closed = true;
                notifyAll();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (failure == null) {
                failure = cause;
            }
            ctx.close();
        }

        /**
         * Why the connection failed on the client's side: the handshake's failure, or the first
         * error after it (a TLS 1.3 server's alert arrives after the client's handshake completed);
         * null if none. BoringSSL's message names the alert received, e.g. TLSV1_ALERT_ACCESS_DENIED.
         */
        public Throwable failure() {
            Throwable handshake = handshakeFailure();
            return handshake != null ? handshake : failure;
        }

        @Override
        public void close() {
            channel.close().syncUninterruptibly();
        }
    }

    /** A parsed HTTP response. */
    public record HttpAnswer(int status, Map<String, String> headers, byte[] body) {
        public String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    /** A GET for {@code path} with Host = the service host, plus extra header lines. */
    public static String get(String path, String... headerLines) {
        StringBuilder b = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: " + TlsPeers.HOST + "\r\n");
        for (String h : headerLines) {
            b.append(h).append("\r\n");
        }
        return b.append("\r\n").toString();
    }

    @Override
    public void close() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        ReferenceCountUtil.release(context);
    }
}
