package io.meshgate.gateway.h2;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;

/**
 * Right behind the HTTP/1.1 codec of a downstream connection: counts each request once in
 * {@code meshgate_http_requests_total{protocol="http/1.1"}} by the status class of the final
 * response written for it (the endpoint's or the gateway's own), and as {@code reset} when the
 * connection ends before it was answered.
 */
final class Http1StatusMeter extends ChannelDuplexHandler {

    private final Http2Metrics metrics;
    /** Requests read and not answered yet (more than one when the caller pipelines). */
    private int unanswered;

    Http1StatusMeter(Http2Metrics metrics) {
        this.metrics = metrics;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof HttpRequest) {
            unanswered++;
        }
        ctx.fireChannelRead(msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof HttpResponse response && unanswered > 0 && response.status().code() >= 200) {
            unanswered--;
            metrics.http1Answered(response.status().code());
        }
        ctx.write(msg, promise);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        for (; unanswered > 0; unanswered--) {
            metrics.http1Answered(0);
        }
    }
}
