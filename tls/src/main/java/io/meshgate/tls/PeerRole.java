package io.meshgate.tls;

/** Which side of a handshake the verified peer plays; it decides the extended key usage required. */
public enum PeerRole {
    /** A downstream caller: its leaf must allow clientAuth. */
    CLIENT("1.3.6.1.5.5.7.3.2", "clientAuth"),
    /** An upstream endpoint: its leaf must allow serverAuth. */
    SERVER("1.3.6.1.5.5.7.3.1", "serverAuth");

    private static final String ANY_EXTENDED_KEY_USAGE = "2.5.29.37.0";

    private final String keyPurposeOid;
    private final String keyPurposeName;

    PeerRole(String keyPurposeOid, String keyPurposeName) {
        this.keyPurposeOid = keyPurposeOid;
        this.keyPurposeName = keyPurposeName;
    }

    /** RFC 5280: no EKU extension means any usage; otherwise the purpose (or anyExtendedKeyUsage) must be listed. */
    boolean allows(java.util.List<String> extendedKeyUsage) {
        return extendedKeyUsage == null
                || extendedKeyUsage.contains(keyPurposeOid)
                || extendedKeyUsage.contains(ANY_EXTENDED_KEY_USAGE);
    }

    String keyPurposeName() {
        return keyPurposeName;
    }
}
