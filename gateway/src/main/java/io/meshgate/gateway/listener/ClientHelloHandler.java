package io.meshgate.gateway.listener;

import io.meshgate.gateway.outcome.Outcome;
import io.meshgate.gateway.transport.LoopDeadlines;
import io.meshgate.tls.hello.ClientHelloReader;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.ReferenceCountUtil;

/**
 * Stage 1: accumulates the first flight until it holds a complete ClientHello, without consuming
 * it, and learns the SNI. Then it leaves the pipeline and passes every byte read so far on,
 * unchanged, behind a {@link ServerNameEvent}. Refusals (no SNI, not a hello, over the cap, EOF
 * mid-hello, too slow) close the connection and nothing is forwarded.
 */
public final class ClientHelloHandler extends ChannelInboundHandlerAdapter {

    /** Fired once the SNI is known, just before the buffered bytes. */
    record ServerNameEvent(String serverName) {}

    private final Connection connection;
    private final ClientHelloReader reader;
    /** Whether a hello without SNI hears {@code missing_extension}: the gateway is the TLS server (terminate mode). */
    private final boolean alert;
    private ByteBuf cumulation;
    private LoopDeadlines.Timeout timeout;

    /** For a passthrough listener: a refused connection is closed, as a TCP proxy does. */
    public ClientHelloHandler(Connection connection) {
        this(connection, false);
    }

    private ClientHelloHandler(Connection connection, boolean alert) {
        this.connection = connection;
        this.alert = alert;
        this.reader = new ClientHelloReader(connection.listener().limits().clientHelloMaxBytes());
    }

    /**
     * For a listener that terminates TLS: a complete hello without SNI (the name routes the
     * connection) gets the {@code missing_extension} alert RFC 8446 section 9.2 recommends before the
     * connection closes.
     */
    public static ClientHelloHandler terminating(Connection connection) {
        return new ClientHelloHandler(connection, true);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        long nanos = connection.listener().limits().clientHelloTimeout().toNanos();
        if (nanos > 0) {
            timeout = LoopDeadlines.start(ctx.channel().eventLoop(), nanos, () -> connection.refuse(Outcome.TIMEOUT));
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf in)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        cumulation = cumulation == null ? in : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(ctx.alloc(), cumulation, in);
        switch (reader.read(cumulation)) {
            case NEED_MORE -> { }
            case REFUSED -> connection.refuse(Outcome.BAD_HELLO);
            case COMPLETE -> complete(ctx);
        }
    }

    private void complete(ChannelHandlerContext ctx) {
        cancelTimeout();
        String sni = reader.serverName();
        if (sni == null) {
            if (alert) {
                ctx.writeAndFlush(TlsAlert.MISSING_EXTENSION.record());
            }
            connection.refuse(Outcome.NO_SNI);
            return;
        }
        connection.serverName(sni);
        // Reading stays on: a TLS client waits for the ServerHello, so usually nothing more comes
        // before the upstream is there, and the connect stage stops reading if something does
        // (turning reading off and on again here cost two epoll_ctl calls per connection).
        ByteBuf hello = cumulation;
        cumulation = null;
        ctx.pipeline().remove(this);
        ctx.fireUserEventTriggered(new ServerNameEvent(sni));
        ctx.fireChannelRead(hello);
        ctx.fireChannelReadComplete();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            connection.refuse(Outcome.BAD_HELLO); // EOF before the hello was complete
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        connection.refuse(Outcome.BAD_HELLO);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        connection.outcome(Outcome.BAD_HELLO);
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancelTimeout();
        if (cumulation != null) {
            cumulation.release();
            cumulation = null;
        }
    }

    private void cancelTimeout() {
        if (timeout != null) {
            timeout.cancel();
            timeout = null;
        }
    }
}
