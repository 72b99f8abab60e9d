package io.meshgate.gateway.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.meshgate.routing.OutboundSni;
import io.meshgate.routing.Resolution;
import io.meshgate.routing.RouteError;
import io.meshgate.routing.RouteSource;
import io.meshgate.routing.RouteTable;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Answers the admin endpoints (README "Admin endpoints"), as JSON or Prometheus text. */
@ChannelHandler.Sharable
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final AdminView view;

    AdminHandler(AdminView view) {
        this.view = view;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        QueryStringDecoder uri = new QueryStringDecoder(req.uri());
        FullHttpResponse res;
        if (!req.method().equals(HttpMethod.GET) && !req.method().equals(HttpMethod.HEAD)) {
            res = json(HttpResponseStatus.METHOD_NOT_ALLOWED, Map.of("error", "only GET"));
        } else {
            res = switch (uri.path()) {
                case "/healthz" -> text(HttpResponseStatus.OK, "ok\n");
                case "/readyz" -> view.ready()
                        ? text(HttpResponseStatus.OK, "ready\n")
                        : text(HttpResponseStatus.SERVICE_UNAVAILABLE, view.draining() ? "draining\n" : "not ready\n");
                case "/metrics" -> metrics();
                case "/debug/resolve" -> resolve(uri);
                case "/debug/routes" -> json(HttpResponseStatus.OK, routes());
                case "/debug/trust" -> ("spiffe".equals(first(uri, "format")) ? view.spiffeBundle() : view.trustView())
                        .map(v -> json(HttpResponseStatus.OK, v))
                        .orElseGet(() -> json(HttpResponseStatus.NOT_FOUND, Map.of("error", "no tls configured")));
                default -> json(HttpResponseStatus.NOT_FOUND, Map.of("error", "no such endpoint", "path", uri.path()));
            };
        }
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        HttpUtil.setKeepAlive(res, keepAlive);
        var f = ctx.writeAndFlush(res);
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    private static String first(QueryStringDecoder uri, String name) {
        List<String> values = uri.parameters().get(name);
        return values == null || values.isEmpty() ? null : values.get(0);
    }

    private FullHttpResponse metrics() {
        FullHttpResponse res = text(HttpResponseStatus.OK, view.scrape());
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
        return res;
    }

    private FullHttpResponse resolve(QueryStringDecoder uri) {
        List<String> sniParam = uri.parameters().get("sni");
        if (sniParam == null || sniParam.isEmpty()) {
            return json(HttpResponseStatus.BAD_REQUEST, Map.of("error", "missing query parameter sni"));
        }
        String sni = sniParam.get(0);
        Optional<OutboundSni> parsed = OutboundSni.parse(sni);
        Resolution r = parsed.isPresent() ? view.router().resolve(parsed.get()) : Resolution.refused(RouteError.BAD_SNI);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("sni", sni);
        // Other clusters that could serve it (egress listeners use them; east-west never does).
        List<Map<String, Object>> remotes = parsed.map(o -> view.router().remoteGateways(o)).orElse(List.of()).stream()
                .map(g -> {
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("cluster", g.cluster());
                    m.put("gateway", g.gateway().toString());
                    m.put("healthyEndpoints", g.healthyEndpoints());
                    return m;
                }).toList();
        if (r instanceof Resolution.Routed routed) {
            OutboundSni o = parsed.get();
            body.put("host", o.host());
            body.put("port", o.port());
            body.put("subset", o.subset());
            body.put("endpoints", routed.endpoints().endpoints().stream().map(Object::toString).toList());
            if (!remotes.isEmpty()) {
                body.put("remoteClusters", remotes);
            }
            return json(HttpResponseStatus.OK, body);
        }
        body.put("error", ((Resolution.Refused) r).error().code());
        if (!remotes.isEmpty()) {
            body.put("remoteClusters", remotes);
        }
        return json(HttpResponseStatus.NOT_FOUND, body);
    }

    private Map<String, Object> routes() {
        List<Object> sources = new ArrayList<>();
        for (RouteSource s : view.router().sources()) {
            List<Object> services = new ArrayList<>();
            for (RouteTable.RouteEntry e : s.current().entries()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("host", e.host());
                m.put("port", e.port());
                m.put("protocol", e.protocol().name().toLowerCase(java.util.Locale.ROOT));
                m.put("endpoints", e.endpoints().stream().map(Object::toString).toList());
                services.add(m);
            }
            Map<String, Object> source = new LinkedHashMap<>();
            source.put("name", s.name());
            source.put("local", s.local());
            source.put("synced", s.synced());
            if (s instanceof io.meshgate.routing.RemoteCluster remote) {
                source.put("gateway", remote.gateway().map(Object::toString).orElse(null));
                source.put("gatewaySource", remote.gatewaySource());
            }
            source.put("services", services);
            sources.add(source);
        }
        return Map.of("sources", sources);
    }

    static FullHttpResponse json(HttpResponseStatus status, Object body) {
        try {
            FullHttpResponse res = response(status, JSON.writeValueAsBytes(body));
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
            return res;
        } catch (JsonProcessingException e) {
            return text(HttpResponseStatus.INTERNAL_SERVER_ERROR, e.getMessage());
        }
    }

    static FullHttpResponse text(HttpResponseStatus status, String body) {
        FullHttpResponse res = response(status, body.getBytes(StandardCharsets.UTF_8));
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        return res;
    }

    private static FullHttpResponse response(HttpResponseStatus status, byte[] body) {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        return res;
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
