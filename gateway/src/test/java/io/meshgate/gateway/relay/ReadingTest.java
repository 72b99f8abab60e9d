package io.meshgate.gateway.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Backpressure on an h2 stream channel: a stream that resumes reading gives back the window of
 * what it read while paused, and that WINDOW_UPDATE must reach the wire even when Netty left a read
 * in progress on the stream (it writes the update then, but does not flush it). Two Netty h2
 * codecs on embedded channels, bytes passed between them by hand.
 */
class ReadingTest {

    /** One DATA frame: more than half the 64 KiB window, as Netty returns window only past half of it. */
    static final int FRAME = 40 * 1024;

    final AtomicReference<Http2StreamChannel> serverStream = new AtomicReference<>();
    final EmbeddedChannel server = new EmbeddedChannel(
            Http2FrameCodecBuilder.forServer().initialSettings(Http2Settings.defaultSettings().maxFrameSize(FRAME)).build(),
            new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                @Override
                protected void initChannel(Http2StreamChannel ch) {
                    serverStream.set(ch);
                    ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            if (msg instanceof Http2DataFrame) {
                                // What a proxy does when the other side cannot take more: stop reading.
                                Reading.set(ctx.channel(), false);
                            }
                            ReferenceCountUtil.release(msg);
                        }
                    });
                }
            }));
    final EmbeddedChannel client = new EmbeddedChannel(Http2FrameCodecBuilder.forClient().build(),
            new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));

    @AfterEach
    void close() {
        client.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }

    /** Moves what each side flushed to the other until neither has anything left. */
    void exchange() {
        boolean moved;
        do {
            moved = move(client, server) | move(server, client);
        } while (moved);
    }

    static boolean move(EmbeddedChannel from, EmbeddedChannel to) {
        from.runPendingTasks();
        boolean moved = false;
        ByteBuf b;
        while ((b = from.readOutbound()) != null) {
            to.writeInbound(b);
            moved = true;
        }
        to.runPendingTasks();
        return moved;
    }

    @Test
    void shouldFlushTheWindowUpdateOfAStreamThatResumesWhileNettyHasAReadInProgress() {
        exchange(); // prefaces and SETTINGS
        Http2StreamChannel out = new Http2StreamChannelBootstrap(client).open().syncUninterruptibly().getNow();
        out.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("POST").path("/").scheme("https"), false));
        exchange();
        Http2StreamChannel in = serverStream.get();
        assertThat(in).isNotNull();
        // Paused and resumed between reads (the other side's writability went down and up again): Netty
        // now has a read requested on the stream, and the DATA pauses it inside that read.
        Reading.set(in, false);
        Reading.set(in, true);
        out.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(new byte[FRAME]), false));
        exchange();
        Http2Connection c = client.pipeline().get(Http2FrameCodec.class).connection();
        int window = c.remote().flowController().windowSize(c.stream(out.stream().id()));
        assertThat(window).as("the paused stream keeps its window shut").isEqualTo(65_535 - FRAME);

        Reading.set(in, true); // the other side can take the DATA again: resume
        exchange();

        assertThat(c.remote().flowController().windowSize(c.stream(out.stream().id())))
                .as("the window the resumed stream gave back reached the sender").isEqualTo(65_535);
    }
}
