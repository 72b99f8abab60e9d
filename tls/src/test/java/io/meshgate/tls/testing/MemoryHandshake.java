package io.meshgate.tls.testing;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import javax.net.ssl.SSLException;

/**
 * A TLS handshake between two {@link SSLEngine}s in memory, no sockets: every flight one side
 * wraps is unwrapped by the other until neither has anything left to say. What the server sent
 * after its last successful step (its alert, when it refuses the client) is kept, byte for byte.
 */
public final class MemoryHandshake {

    /** How the handshake ended: the server's failure (null if it accepted) and the bytes it sent after its last flight before that. */
    public record Result(SSLException serverFailure, SSLException clientFailure, byte[] serverBytesAfterFailure) {}

    private static final int BUFFER = 64 * 1024;

    private MemoryHandshake() {}

    /** Runs the handshake to its end (success or failure on either side); at most 64 flights. */
    public static Result run(SSLEngine client, SSLEngine server) throws SSLException {
        client.beginHandshake();
        server.beginHandshake();
        ByteBuffer toServer = ByteBuffer.allocate(BUFFER);
        ByteBuffer toClient = ByteBuffer.allocate(BUFFER);
        ByteBuffer app = ByteBuffer.allocate(BUFFER);
        SSLException serverFailure = null;
        SSLException clientFailure = null;
        ByteArrayOutputStream afterFailure = new ByteArrayOutputStream();
        for (int round = 0; round < 64; round++) {
            boolean moved = false;
            if (clientFailure == null) {
                try {
                    moved |= wrap(client, toServer);
                } catch (SSLException e) {
                    clientFailure = e;
                }
            }
            toServer.flip();
            if (serverFailure == null && toServer.hasRemaining()) {
                try {
                    moved |= unwrapAll(server, toServer, app);
                } catch (SSLException e) {
                    serverFailure = e;
                }
            }
            toServer.compact();
            int before = toClient.position();
            try {
                moved |= wrap(server, toClient);
            } catch (SSLException e) {
                if (serverFailure == null) {
                    serverFailure = e;
                }
            }
            if (serverFailure != null) {
                afterFailure.write(toClient.array(), before, toClient.position() - before);
            }
            toClient.flip();
            if (clientFailure == null && toClient.hasRemaining()) {
                try {
                    moved |= unwrapAll(client, toClient, app);
                } catch (SSLException e) {
                    clientFailure = e;
                }
            }
            toClient.compact();
            app.clear();
            boolean done = idle(client) && idle(server);
            if (!moved && (done || serverFailure != null || clientFailure != null)) {
                break;
            }
        }
        return new Result(serverFailure, clientFailure, afterFailure.toByteArray());
    }

    private static boolean idle(SSLEngine engine) {
        HandshakeStatus s = engine.getHandshakeStatus();
        return s == HandshakeStatus.NOT_HANDSHAKING || s == HandshakeStatus.FINISHED;
    }

    /** Wraps until the engine has nothing more to send; true if it produced bytes. */
    private static boolean wrap(SSLEngine engine, ByteBuffer out) throws SSLException {
        boolean produced = false;
        for (int i = 0; i < 16; i++) {
            int before = out.position();
            engine.wrap(ByteBuffer.allocate(0), out);
            runTasks(engine);
            if (out.position() == before) {
                break;
            }
            produced = true;
        }
        return produced;
    }

    private static boolean unwrapAll(SSLEngine engine, ByteBuffer in, ByteBuffer app) throws SSLException {
        boolean consumed = false;
        while (in.hasRemaining()) {
            int before = in.remaining();
            engine.unwrap(in, app);
            runTasks(engine);
            if (in.remaining() == before) {
                break;
            }
            consumed = true;
        }
        return consumed;
    }

    private static void runTasks(SSLEngine engine) {
        Runnable task;
        while ((task = engine.getDelegatedTask()) != null) {
            task.run();
        }
    }
}
