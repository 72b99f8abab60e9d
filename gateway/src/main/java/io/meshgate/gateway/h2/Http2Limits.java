package io.meshgate.gateway.h2;

import io.meshgate.gateway.config.ConfigBinder;
import io.meshgate.gateway.config.GatewaySpec;
import io.netty.channel.Channel;
import io.netty.channel.unix.IntegerUnixChannelOption;
import io.netty.handler.codec.http2.DefaultHttp2Connection;
import io.netty.handler.codec.http2.DefaultHttp2RemoteFlowController;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.UniformStreamByteDistributor;
import java.time.Duration;

/**
 * The validated {@code http2:} block as the values the codecs need, and the one place both codecs
 * are built: every SETTINGS value and every Netty abuse limit is set explicitly here (Netty's
 * defaults change between releases; an operator reads them in the config reference instead).
 */
public record Http2Limits(int maxConcurrentStreams, int initialStreamWindow, int initialConnectionWindow,
                          int maxHeaderListSize, Duration maxConnectionAge, Duration drainNotice, Duration drainTimeout,
                          int upstreamMaxConcurrentStreams, int prematureResetMinStreams,
                          Duration prematureResetMinLifetime, int maxResetFramesPerWindow, Duration resetFramesWindow,
                          int maxQueuedControlFrames, int maxConsecutiveEmptyDataFrames, int notSentLowWatermark) {

    /**
     * CONTINUATION frames below 16 KiB in a row that Netty accepts for one header block
     * (CVE-2024-27316 family): a real header block needs one or two.
     */
    static final int MAX_SMALL_CONTINUATION_FRAMES = 16;

    public static Http2Limits of(GatewaySpec.Http2Spec c, Duration drainTimeout) {
        return new Http2Limits(c.maxConcurrentStreams(), c.initialStreamWindow(), c.initialConnectionWindow(),
                c.maxHeaderListSize(), c.maxConnectionAge(), c.drainNotice(), drainTimeout,
                c.upstreamMaxConcurrentStreams(), c.prematureResetMinStreams(), c.prematureResetMinLifetime(),
                c.maxResetFramesPerWindow(), c.resetFramesWindow(), c.maxQueuedControlFrames(),
                c.maxConsecutiveEmptyDataFrames(), c.notSentLowWatermark());
    }

    /** The defaults of an empty {@code http2:} block (tests). */
    public static Http2Limits defaults(Duration drainTimeout) {
        return of(ConfigBinder.http2Defaults(), drainTimeout);
    }

    /** TCP_NOTSENT_LOWAT as a raw option ({@code IPPROTO_TCP}=6, {@code TCP_NOTSENT_LOWAT}=25 on Linux): epoll and io_uring. */
    private static final IntegerUnixChannelOption TCP_NOTSENT_LOWAT = new IntegerUnixChannelOption("TCP_NOTSENT_LOWAT", 6, 25);

    /**
     * Caps what the kernel holds unsent for a caller's connection at {@code notSentLowWatermark}:
     * beyond it the socket takes no more, so what a caller that does not read is owed (SETTINGS and
     * PING acks) queues in the gateway, where {@code maxQueuedControlFrames} counts it, instead of
     * in up to {@code net.ipv4.tcp_wmem} (4 MiB) of socket buffer first. Bytes already sent and not
     * yet acknowledged are not counted, so throughput is not held back. No effect with NIO.
     */
    void limitUnsentBytes(Channel ch) {
        if (notSentLowWatermark > 0) {
            ch.config().setOption(TCP_NOTSENT_LOWAT, notSentLowWatermark);
        }
    }

    /** The downstream (server) codec: the listener's SETTINGS and abuse limits. */
    Http2FrameCodec serverCodec() {
        Http2Settings settings = Http2Settings.defaultSettings()
                .maxConcurrentStreams(maxConcurrentStreams)
                .initialWindowSize(initialStreamWindow)
                .maxHeaderListSize(maxHeaderListSize);
        return limited(new UniformFrameCodecBuilder(true).initialSettings(settings))
                // A drain's final GOAWAY waits this long for open streams before the connection closes.
                .gracefulShutdownTimeoutMillis(drainTimeout.toMillis())
                .build();
    }

    /** The upstream (client) codec: no server push, the same windows and header list limit. */
    Http2FrameCodec clientCodec() {
        Http2Settings settings = Http2Settings.defaultSettings()
                .pushEnabled(false)
                .maxConcurrentStreams(0)
                .initialWindowSize(initialStreamWindow)
                .maxHeaderListSize(maxHeaderListSize);
        return limited(new UniformFrameCodecBuilder(false).initialSettings(settings))
                .gracefulShutdownTimeoutMillis(0)
                .build();
    }

    /**
     * Netty's frame codec builder with a connection that shares the send window between streams
     * with {@link UniformStreamByteDistributor} instead of the default priority tree
     * ({@code WeightedFairQueueByteDistributor}): HTTP/2 priorities are deprecated (RFC 9113) and a
     * relay does not act on them, and the tree's per-stream state and events cost allocation and CPU
     * on every request. Every stream with data still gets its turn, so a stalled stream cannot
     * starve the others.
     */
    private static final class UniformFrameCodecBuilder extends Http2FrameCodecBuilder {
        UniformFrameCodecBuilder(boolean server) {
            DefaultHttp2Connection connection = new DefaultHttp2Connection(server);
            connection.remote().flowController(
                    new DefaultHttp2RemoteFlowController(connection, new UniformStreamByteDistributor(connection)));
            connection(connection);
        }
    }

    private Http2FrameCodecBuilder limited(Http2FrameCodecBuilder b) {
        return b.validateHeaders(true)
                .autoAckPingFrame(true)
                .autoAckSettingsFrame(true)
                // SETTINGS/PING floods: acks the peer does not read pile up here until the connection closes.
                .encoderEnforceMaxQueuedControlFrames(maxQueuedControlFrames)
                // Empty DATA frames cost work and carry nothing (CVE-2019-9518).
                .decoderEnforceMaxConsecutiveEmptyDataFrames(maxConsecutiveEmptyDataFrames)
                // Rapid reset backstop (CVE-2023-44487); the premature-reset rule acts first.
                .decoderEnforceMaxRstFramesPerWindow(maxResetFramesPerWindow, (int) resetFramesWindow.toSeconds())
                .decoderEnforceMaxSmallContinuationFrames(MAX_SMALL_CONTINUATION_FRAMES)
                .encoderEnforceMaxConcurrentStreams(false);
    }
}
