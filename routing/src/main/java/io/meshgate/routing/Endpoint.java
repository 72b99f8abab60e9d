package io.meshgate.routing;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * One upstream address: an IP literal (as the API or the config stored it) and a port.
 * The socket address is built once, without DNS, so the data path never resolves names.
 */
public record Endpoint(String address, int port, InetSocketAddress socketAddress) implements Comparable<Endpoint> {

    public Endpoint {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
    }

    /** An endpoint from an IP literal; {@link IllegalArgumentException} when it is not one. */
    public static Endpoint of(String ip, int port) {
        return new Endpoint(ip, port, new InetSocketAddress(literal(ip), port));
    }

    /**
     * Parses {@code ip:port} or {@code [ipv6]:port}; hostnames are refused on purpose (a gateway
     * that resolves DNS per connection is slow and hard to reason about).
     */
    public static Endpoint parse(String hostPort) {
        String ip;
        String portText;
        if (hostPort.startsWith("[")) {
            int close = hostPort.indexOf("]:");
            if (close < 0) {
                throw new IllegalArgumentException("expected [ipv6]:port, got '" + hostPort + "'");
            }
            ip = hostPort.substring(1, close);
            portText = hostPort.substring(close + 2);
        } else {
            int colon = hostPort.lastIndexOf(':');
            if (colon <= 0 || hostPort.indexOf(':') != colon) {
                throw new IllegalArgumentException("expected ip:port, got '" + hostPort + "'");
            }
            ip = hostPort.substring(0, colon);
            portText = hostPort.substring(colon + 1);
        }
        int port;
        try {
            port = Integer.parseInt(portText);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("bad port in '" + hostPort + "'");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port out of range in '" + hostPort + "'");
        }
        return of(ip, port);
    }

    private static InetAddress literal(String ip) {
        if (!isIpLiteral(ip)) {
            throw new IllegalArgumentException("not an IP address: '" + ip + "'");
        }
        try {
            return InetAddress.getByName(ip); // an IP literal: no lookup happens
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("not an IP address: '" + ip + "'", e);
        }
    }

    static boolean isIpLiteral(String ip) {
        if (ip.isEmpty()) {
            return false;
        }
        if (ip.indexOf(':') >= 0) { // IPv6: hex digits, colons, optional embedded IPv4
            for (int i = 0; i < ip.length(); i++) {
                char c = ip.charAt(i);
                if (!(Character.digit(c, 16) >= 0 || c == ':' || c == '.')) {
                    return false;
                }
            }
            return true;
        }
        String[] parts = ip.split("\\.", -1);
        if (parts.length != 4) {
            return false;
        }
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit) || Integer.parseInt(p) > 255) {
                return false;
            }
        }
        return true;
    }

    /** {@code ip:port}, IPv6 in brackets, the address as stored. */
    @Override
    public String toString() {
        return address.indexOf(':') >= 0 ? "[" + address + "]:" + port : address + ":" + port;
    }

    @Override
    public int compareTo(Endpoint o) {
        return toString().compareTo(o.toString());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Endpoint e && e.port == port && e.address.equals(address);
    }

    @Override
    public int hashCode() {
        return address.hashCode() * 31 + port;
    }
}
