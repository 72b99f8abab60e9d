package io.meshgate.routing;

/** Why a routing name leads nowhere; the codes are the ones {@code /debug/resolve} answers. */
public enum RouteError {
    BAD_SNI("bad-sni"),
    NO_SUCH_SERVICE("no-such-service"),
    NO_SUCH_PORT("no-such-port"),
    EXTERNAL_NAME("external-name"),
    NO_HEALTHY_ENDPOINTS("no-healthy-endpoints"),
    NO_SUCH_SUBSET("no-such-subset");

    private final String code;

    RouteError(String code) {
        this.code = code;
    }

    public String code() {
        return code;
    }

    /**
     * How far a name got before it failed: when several sources answer, the most specific
     * error wins (a source that knows the service says more than one that does not).
     */
    public int specificity() {
        return switch (this) {
            case BAD_SNI -> 0;
            case NO_SUCH_SERVICE -> 1;
            case EXTERNAL_NAME -> 2;
            case NO_SUCH_PORT -> 3;
            case NO_SUCH_SUBSET -> 4;
            case NO_HEALTHY_ENDPOINTS -> 5;
        };
    }
}
