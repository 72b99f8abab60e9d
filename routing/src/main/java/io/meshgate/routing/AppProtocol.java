package io.meshgate.routing;

import java.util.Locale;

/** What a service port speaks, which decides whether a terminating listener proxies HTTP or bytes. */
public enum AppProtocol {
    TCP, HTTP, HTTP2, GRPC;

    /**
     * From a Kubernetes {@code appProtocol} or port name prefix ({@code http}, {@code http-web},
     * {@code grpc-api}...); anything unknown is opaque TCP.
     */
    public static AppProtocol fromKubernetes(String appProtocol, String portName) {
        String p = appProtocol != null && !appProtocol.isEmpty() ? appProtocol : portName;
        if (p == null) {
            return TCP;
        }
        String s = p.toLowerCase(Locale.ROOT);
        if (s.equals("grpc") || s.startsWith("grpc-")) {
            return GRPC;
        }
        if (s.equals("http2") || s.startsWith("http2-") || s.equals("kubernetes.io/h2c")) {
            return HTTP2;
        }
        if (s.equals("http") || s.startsWith("http-")) {
            return HTTP;
        }
        return TCP;
    }

    public boolean isHttp() {
        return this != TCP;
    }
}
