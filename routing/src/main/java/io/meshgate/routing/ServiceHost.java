package io.meshgate.routing;

import java.util.Locale;
import java.util.Optional;

/**
 * A Kubernetes Service named by its DNS host, {@code <name>.<namespace>.svc.<clusterDomain>}.
 * Matching ignores case, so both parts are kept lower-cased.
 */
public record ServiceHost(String name, String namespace) {

    public ServiceHost {
        name = name.toLowerCase(Locale.ROOT);
        namespace = namespace.toLowerCase(Locale.ROOT);
    }

    /** Empty when {@code host} is not {@code <name>.<namespace>.svc.<clusterDomain>}. */
    public static Optional<ServiceHost> parse(String host, String clusterDomain) {
        String h = host.toLowerCase(Locale.ROOT);
        String suffix = ".svc." + clusterDomain.toLowerCase(Locale.ROOT);
        if (!h.endsWith(suffix)) {
            return Optional.empty();
        }
        String nameAndNs = h.substring(0, h.length() - suffix.length());
        int dot = nameAndNs.indexOf('.');
        if (dot <= 0 || dot == nameAndNs.length() - 1 || nameAndNs.indexOf('.', dot + 1) >= 0) {
            return Optional.empty();
        }
        return Optional.of(new ServiceHost(nameAndNs.substring(0, dot), nameAndNs.substring(dot + 1)));
    }

    public String host(String clusterDomain) {
        return name + "." + namespace + ".svc." + clusterDomain;
    }

    @Override
    public String toString() {
        return namespace + "/" + name;
    }
}
