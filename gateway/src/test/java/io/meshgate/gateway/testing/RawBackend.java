package io.meshgate.gateway.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A plain TCP endpoint on 127.0.0.1 that records every byte it receives per connection, so tests
 * can prove the gateway forwarded the first flight byte-identical (or nothing at all). Each
 * accepted connection runs a {@link Behaviour}.
 */
public final class RawBackend implements AutoCloseable {

    /** What the backend does with one accepted connection. */
    public interface Behaviour {
        void serve(Socket socket, Received received) throws IOException;
    }

    /** Bytes received on one connection. */
    public static final class Received {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private volatile boolean eof;

        synchronized void add(byte[] b, int off, int len) {
            bytes.write(b, off, len);
        }

        public synchronized byte[] bytes() {
            return bytes.toByteArray();
        }

        public synchronized int size() {
            return bytes.size();
        }

        public boolean sawEof() {
            return eof;
        }

        /** Reads the socket into this record until EOF. */
        public void readToEof(InputStream in) throws IOException {
            byte[] buf = new byte[65536];
            int n;
            while ((n = in.read(buf)) > 0) {
                add(buf, 0, n);
            }
            eof = true;
        }
    }

    /** Echo every byte back, propagating EOF as a half-close. */
    public static final Behaviour ECHO = (s, r) -> {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        byte[] buf = new byte[65536];
        int n;
        while ((n = in.read(buf)) > 0) {
            r.add(buf, 0, n);
            out.write(buf, 0, n);
        }
        r.eof = true;
        s.shutdownOutput();
    };

    /** Record until EOF, never answer. */
    public static final Behaviour RECORD = (s, r) -> r.readToEof(s.getInputStream());

    private final ServerSocket server;
    private final ExecutorService threads = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "raw-backend");
        t.setDaemon(true);
        return t;
    });
    private final List<Received> connections = new CopyOnWriteArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();

    public RawBackend(Behaviour behaviour) throws IOException {
        server = new ServerSocket(0, 128, InetAddress.getLoopbackAddress());
        threads.execute(() -> {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    accepted.incrementAndGet();
                    Received r = new Received();
                    connections.add(r);
                    threads.execute(() -> {
                        try (s) {
                            behaviour.serve(s, r);
                        } catch (IOException ignored) {
                            // peer went away; the test checks what was received
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
    }

    public int port() {
        return server.getLocalPort();
    }

    public String endpoint() {
        return "127.0.0.1:" + port();
    }

    public InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port());
    }

    public int accepted() {
        return accepted.get();
    }

    public List<Received> connections() {
        return connections;
    }

    @Override
    public void close() throws IOException {
        server.close();
        threads.shutdownNow();
    }
}
