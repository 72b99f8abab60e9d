package io.meshgate.gateway.relay;

/**
 * One constant per handler name in meshgate's pipelines. The order of a passthrough downstream:
 * <pre>
 *   hello (ClientHelloHandler)  → route (RouteSelector) → connect (UpstreamConnector) → relay (RelayHandler)
 * </pre>
 * Each stage removes itself when done, so an established connection carries only {@code relay};
 * the upstream channel carries only {@code relay}.
 */
public final class MeshgateHandlerNames {
    public static final String CLIENT_HELLO = "hello";
    public static final String ROUTE = "route";
    public static final String CONNECT = "connect";
    public static final String RELAY = "relay";

    private MeshgateHandlerNames() {}
}
