package io.meshgate.gateway.accesslog;

import io.meshgate.routing.Endpoint;
import java.net.SocketAddress;

/**
 * One downstream connection as the access log reports it, captured on the event loop when the
 * connection closes. Holds values only; turning them into text is the writer thread's work.
 *
 * @param epochMillis       when the connection closed (its fate and byte counts are final then)
 * @param listener          the listener's name
 * @param peer              the downstream address
 * @param sni               the server name the client asked for; null when none was read
 * @param cluster           the route source (local cluster, {@code static}) or the remote cluster reached; null when not routed
 * @param endpoint          the upstream endpoint (or remote gateway) connected to; null when none
 * @param peerIdentity      terminate mode: the client's SPIFFE ID; null otherwise
 * @param bytesToUpstream   bytes written to the connection's own upstream; -1 when it had none of its own (pooled HTTP)
 * @param bytesToDownstream bytes written to the client
 * @param durationNanos     from accept to close
 * @param outcome           the outcome label of {@code meshgate_downstream_connections_total}
 */
public record AccessLogEntry(long epochMillis, String listener, SocketAddress peer, String sni, String cluster,
                             Endpoint endpoint, String peerIdentity, long bytesToUpstream, long bytesToDownstream,
                             long durationNanos, String outcome) {}
