package io.meshgate.gateway.direct;

import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;

/**
 * The pipe one spliced direction moves its bytes through (socket → pipe → socket), made at the
 * direction's first splice and closed with the connection. {@link #held} bytes are in it: spliced
 * in, not yet out to the destination. Event loop only.
 */
final class SplicePipe {

    /** What one splice into the pipe asks for: a pipe's default capacity (Linux: 16 pages). */
    static final int CHUNK = 64 * 1024;

    private final FileDescriptor readEnd;
    private final FileDescriptor writeEnd;
    private int held;

    private SplicePipe(FileDescriptor readEnd, FileDescriptor writeEnd) {
        this.readEnd = readEnd;
        this.writeEnd = writeEnd;
    }

    /** A new pipe; throws when none can be made (descriptor limit). */
    static SplicePipe open() throws IOException {
        FileDescriptor[] ends = FileDescriptor.pipe();
        return new SplicePipe(ends[0], ends[1]);
    }

    int held() {
        return held;
    }

    /** Moves what {@code socket} has (up to a chunk) into the pipe: bytes, 0 at its end of stream, or -errno. */
    int fill(int socket) {
        int n = RawSocket.splice(socket, writeEnd.intValue(), CHUNK);
        if (n > 0) {
            held += n;
        }
        return n;
    }

    /** Moves what the pipe holds to {@code socket}: bytes (0: none taken now), or -errno. */
    int drain(int socket) {
        int n = RawSocket.splice(readEnd.intValue(), socket, held);
        if (n > 0) {
            held -= n;
            return n;
        }
        return RawSocket.again(n) ? 0 : n;
    }

    void close() {
        DirectConnection.closeQuietly(readEnd);
        DirectConnection.closeQuietly(writeEnd);
    }
}
