package io.meshgate.gateway.h2;

import io.meshgate.tls.TlsMaterial;
import io.meshgate.tls.pki.IssuedIdentity;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2HeadersEncoder;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersEncoder;
import io.netty.handler.ssl.SslHandler;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * An abusive h2 client: a real mTLS connection (ALPN h2) on which the test writes raw frames the
 * way an attacker would (no codec to stop it), and reads what the gateway answers (GOAWAY's error
 * code, whether the connection was closed).
 */
final class H2Attacker implements AutoCloseable {

    static final int DATA = 0x0, HEADERS = 0x1, RST_STREAM = 0x3, SETTINGS = 0x4, PING = 0x6, GOAWAY = 0x7, CONTINUATION = 0x9;
    static final int END_STREAM = 0x1, END_HEADERS = 0x4;

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel channel;
    private final ByteArrayOutputStream received = new ByteArrayOutputStream();
    private final DefaultHttp2HeadersEncoder hpack = new DefaultHttp2HeadersEncoder(Http2HeadersEncoder.NEVER_SENSITIVE, false);

    /** {@code reading} false: the attacker never reads what the gateway sends (its socket buffer fills). */
    H2Attacker(InetSocketAddress gateway, String sni, IssuedIdentity identity, X509Certificate trusted, boolean reading)
            throws Exception {
        var ssl = H2Client.tls(identity, trusted);
        CompletableFuture<Void> handshake = new CompletableFuture<>();
        channel = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .option(ChannelOption.SO_RCVBUF, reading ? 65536 : 4096)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        SslHandler tls = TlsMaterial.upstreamHandler(ssl, ch.alloc(), sni, gateway.getPort());
                        tls.handshakeFuture().addListener(f -> {
                            if (f.isSuccess()) {
                                handshake.complete(null);
                                if (!reading) {
                                    ch.config().setAutoRead(false);
                                }
                            } else {
                                handshake.completeExceptionally(f.cause());
                            }
                        });
                        ch.pipeline().addLast(tls, new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ByteBuf b = (ByteBuf) msg;
                                try {
                                    synchronized (received) {
                                        b.readBytes(received, b.readableBytes());
                                    }
                                } catch (java.io.IOException e) {
                                    throw new IllegalStateException(e);
                                } finally {
                                    b.release();
                                }
                            }
                        });
                    }
                }).connect(gateway).sync().channel();
        handshake.get(10, TimeUnit.SECONDS);
        channel.writeAndFlush(Unpooled.wrappedBuffer(Http2CodecUtil.connectionPrefaceBuf()))
                .syncUninterruptibly();
        send(frame(SETTINGS, 0, 0, Unpooled.EMPTY_BUFFER));
    }

    static ByteBuf frame(int type, int flags, int stream, ByteBuf payload) {
        ByteBuf f = Unpooled.buffer(9 + payload.readableBytes());
        f.writeMedium(payload.readableBytes()).writeByte(type).writeByte(flags).writeInt(stream).writeBytes(payload);
        payload.release();
        return f;
    }

    /** An HPACK block for {@code headers} (this connection's encoder, so its dynamic table stays in step). */
    ByteBuf headerBlock(Http2Headers headers) throws Exception {
        ByteBuf out = Unpooled.buffer();
        hpack.encodeHeaders(1, headers, out);
        return out;
    }

    /** Writes (without waiting) one buffer. */
    void send(ByteBuf bytes) {
        channel.writeAndFlush(bytes);
    }

    /** Writes and waits until the bytes are on the wire, or the connection went away. */
    void sendAndWait(ByteBuf bytes) {
        channel.writeAndFlush(bytes).awaitUninterruptibly(30, TimeUnit.SECONDS);
    }

    boolean isOpen() {
        return channel.isActive();
    }

    Channel channel() {
        return channel;
    }

    /** The error code of the GOAWAY the gateway sent, or -1 (none read yet). */
    long goAwayError() {
        return scan(-1);
    }

    /** Whether the gateway sent HEADERS or RST_STREAM on {@code stream}. */
    boolean answeredOn(int stream) {
        return scan(stream) == 1;
    }

    /** {@code stream} -1: the GOAWAY error code or -1; else 1 if HEADERS/RST_STREAM came on it, else 0. */
    private long scan(int stream) {
        byte[] bytes;
        synchronized (received) {
            bytes = received.toByteArray();
        }
        ByteBuf in = Unpooled.wrappedBuffer(bytes);
        while (in.readableBytes() >= 9) {
            int length = in.readUnsignedMedium();
            int type = in.readUnsignedByte();
            in.skipBytes(1);
            int id = in.readInt() & Integer.MAX_VALUE;
            if (in.readableBytes() < length) {
                break;
            }
            if (stream < 0 && type == GOAWAY && length >= 8) {
                in.skipBytes(4);
                return in.readUnsignedInt();
            }
            if (stream >= 0 && id == stream && (type == HEADERS || type == RST_STREAM)) {
                return 1;
            }
            in.skipBytes(length);
        }
        return stream < 0 ? -1 : 0;
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
