package io.meshgate.demo;

import java.util.HashMap;
import java.util.Map;

/**
 * What a demo pod answers about the connection it received: the body of {@code GET /whoami},
 * one {@code key: value} per line so it reads well in a terminal and parses back exactly.
 *
 * @param pod the pod that answered
 * @param cluster the cluster it runs in
 * @param peer the SPIFFE ID of the TLS peer the pod verified (a workload, or a gateway that terminated)
 * @param peerRoot subject of the bundle root that signed the peer's chain
 * @param peerRootSha256 that root's SHA-256 fingerprint
 * @param xfcc the {@code X-Forwarded-Client-Cert} header, or {@code -}
 */
record WhoAmI(String pod, String cluster, String peer, String peerRoot, String peerRootSha256, String xfcc) {

    static final String XFCC_HEADER = "x-forwarded-client-cert";

    String toText() {
        return "pod: " + pod + "\ncluster: " + cluster + "\npeer: " + peer + "\npeer-root: " + peerRoot
                + "\npeer-root-sha256: " + peerRootSha256 + "\nxfcc: " + xfcc + "\n";
    }

    /** Parses {@link #toText()}; throws when a line is missing (the answer did not come from a demo pod). */
    static WhoAmI parse(String text) {
        Map<String, String> fields = new HashMap<>();
        for (String line : text.split("\n")) {
            int colon = line.indexOf(": ");
            if (colon > 0) {
                fields.put(line.substring(0, colon), line.substring(colon + 2).trim());
            }
        }
        return new WhoAmI(field(fields, "pod", text), field(fields, "cluster", text), field(fields, "peer", text),
                field(fields, "peer-root", text), field(fields, "peer-root-sha256", text), field(fields, "xfcc", text));
    }

    private static String field(Map<String, String> fields, String key, String text) {
        String v = fields.get(key);
        if (v == null) {
            throw new IllegalArgumentException("not a pod's answer (no '" + key + "'): " + text.strip());
        }
        return v;
    }

    /** The {@code URI=} element of the XFCC header, or null. */
    String xfccUri() {
        for (String part : xfcc.split(";")) {
            if (part.startsWith("URI=")) {
                return part.substring(4);
            }
        }
        return null;
    }
}
