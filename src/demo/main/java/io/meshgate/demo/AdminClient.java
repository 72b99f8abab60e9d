package io.meshgate.demo;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * Reads a meshgate admin endpoint the way {@code curl} would (one HTTP/1.1 GET per connection,
 * no client threads left behind), so the demo proves things from {@code /metrics} and
 * {@code /debug/resolve} rather than from the gateway's objects.
 */
final class AdminClient {

    private static final int TIMEOUT_MS = 5000;

    private AdminClient() {}

    /** An admin answer: status code and body. */
    record Answer(int status, String body) {}

    static Answer get(InetSocketAddress admin, String pathAndQuery) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(admin, TIMEOUT_MS);
            s.setSoTimeout(TIMEOUT_MS);
            OutputStream out = s.getOutputStream();
            out.write(("GET " + pathAndQuery + " HTTP/1.1\r\nHost: " + admin.getHostString() + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            InputStream in = s.getInputStream();
            in.transferTo(all);
            String text = all.toString(StandardCharsets.UTF_8);
            int headerEnd = text.indexOf("\r\n\r\n");
            if (!text.startsWith("HTTP/1.1 ") || headerEnd < 0) {
                throw new IOException("not an HTTP answer from " + admin + pathAndQuery);
            }
            return new Answer(Integer.parseInt(text.substring(9, 12)), text.substring(headerEnd + 4));
        }
    }

    /**
     * The value of one Prometheus series in {@code /metrics} whose labels include every
     * {@code name="value"} pair given; 0 when the series does not exist yet.
     */
    static double metric(InetSocketAddress admin, String series, String... labels) throws IOException {
        Answer a = get(admin, "/metrics");
        if (a.status() != 200) {
            throw new IOException(admin + "/metrics answered " + a.status());
        }
        lines:
        for (String line : a.body().split("\n")) {
            if (!line.startsWith(series + "{")) {
                continue;
            }
            for (String label : labels) {
                if (!line.contains(label)) {
                    continue lines;
                }
            }
            return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
        return 0;
    }
}
