package io.meshgate.tls.pki;

import io.meshgate.tls.Pem;
import java.io.IOException;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;

/**
 * A workload's key and certificate chain (leaf, then the intermediate), written as
 * {@code cert.pem}, {@code key.pem} and {@code cert-chain.pem}.
 */
public record IssuedIdentity(PrivateKey key, List<X509Certificate> chain) {

    public static final String CERT = "cert.pem";
    public static final String KEY = "key.pem";
    public static final String CERT_CHAIN = "cert-chain.pem";

    public IssuedIdentity {
        chain = List.copyOf(chain);
    }

    public X509Certificate leaf() {
        return chain.get(0);
    }

    /** Key first: a watcher that sees the new chain finds the matching key already in place. */
    public void write(Path dir) throws IOException {
        Pem.writeAtomically(dir.resolve(KEY), Pem.encode(key), true);
        Pem.writeAtomically(dir.resolve(CERT), Pem.encode(leaf()), false);
        Pem.writeAtomically(dir.resolve(CERT_CHAIN), Pem.encode(chain), false);
    }
}
