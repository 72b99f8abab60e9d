package io.meshgate.gateway.h2;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The codec's frames between two flushes leave as one buffer, and every frame's promise follows it. */
class FrameCoalescerTest {

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }

    private static String drain(ByteBuf buf) {
        try {
            return buf.toString(StandardCharsets.US_ASCII);
        } finally {
            buf.release();
        }
    }

    @Test
    void framesWrittenBetweenTwoFlushesLeaveAsOneBufferAndTheirPromisesCompleteWithIt() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCoalescer());
        ChannelFuture header = ch.write(text("HDR|"));
        ChannelFuture payload = ch.write(text("payload|"));
        ch.write(text("void"), ch.voidPromise());

        assertThat((Object) ch.readOutbound()).as("nothing before the flush").isNull();
        assertThat(header.isDone()).isFalse();

        ch.flush();
        assertThat(drain(ch.readOutbound())).isEqualTo("HDR|payload|void");
        assertThat((Object) ch.readOutbound()).isNull();
        assertThat(header.isSuccess()).isTrue();
        assertThat(payload.isSuccess()).isTrue();
        assertThat(ch.finish()).isFalse();
    }

    @Test
    void somethingThatIsNotABufferGoesOutAfterTheFramesBeforeIt() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCoalescer());
        ch.write(text("before|"));
        Object marker = new Object();
        ch.write(marker);
        ch.write(text("after"));
        ch.flush();

        assertThat(drain(ch.readOutbound())).isEqualTo("before|");
        assertThat((Object) ch.readOutbound()).isSameAs(marker);
        assertThat(drain(ch.readOutbound())).isEqualTo("after");
        ch.finishAndReleaseAll();
    }

    @Test
    void aBurstIsHandedOnInPiecesWithoutWaitingForTheFlush() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCoalescer());
        byte[] chunk = new byte[16 * 1024];
        for (int i = 0; i < 5; i++) {
            ch.write(Unpooled.wrappedBuffer(chunk));
        }
        // 64 KiB reached after the fourth chunk: on its way (the next handler has it, unflushed).
        // (the outbound buffer counts a few bytes of its own per entry)
        assertThat(ch.unsafe().outboundBuffer().totalPendingWriteBytes()).isBetween((long) FrameCoalescer.MAX_BYTES,
                FrameCoalescer.MAX_BYTES + 1024L);
        ch.flush();
        ByteBuf first = ch.readOutbound();
        ByteBuf second = ch.readOutbound();
        assertThat(first.readableBytes()).isEqualTo(FrameCoalescer.MAX_BYTES);
        assertThat(second.readableBytes()).isEqualTo(16 * 1024);
        first.release();
        second.release();
        ch.finishAndReleaseAll();
    }

    @Test
    void aFailedWriteFailsEveryFramesPromise() {
        IOException broken = new IOException("connection reset");
        EmbeddedChannel ch = new EmbeddedChannel(new ChannelOutboundHandlerAdapter() {
            @Override
            public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
                io.netty.util.ReferenceCountUtil.release(msg);
                promise.setFailure(broken);
            }
        }, new FrameCoalescer());
        ChannelFuture a = ch.write(text("a"));
        ChannelFuture b = ch.write(text("b"));
        ch.flush();

        assertThat(a.cause()).isSameAs(broken);
        assertThat(b.cause()).isSameAs(broken);
        ch.finishAndReleaseAll();
    }

    @Test
    void aConnectionClosedWithFramesOpenReleasesThemAndFailsTheirPromises() {
        EmbeddedChannel ch = new EmbeddedChannel(new FrameCoalescer());
        ChannelFuture open = ch.write(text("never flushed"));
        ch.pipeline().remove(FrameCoalescer.class); // what the pipeline's teardown does at the close

        assertThat(open.isDone()).isTrue();
        assertThat(open.isSuccess()).isFalse();
        ch.finishAndReleaseAll();
    }
}
