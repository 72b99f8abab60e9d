package io.meshgate.tls;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Where the gateway's TLS material lives ({@code tls.certificateChain}, {@code tls.privateKey},
 * {@code tls.trustBundle}); the paths are watched and re-read on change.
 */
public record TlsFiles(Path certificateChain, Path privateKey, Path trustBundle) {

    public TlsFiles {
        Objects.requireNonNull(certificateChain, "certificateChain");
        Objects.requireNonNull(privateKey, "privateKey");
        Objects.requireNonNull(trustBundle, "trustBundle");
    }

    public List<Path> all() {
        return List.of(certificateChain, privateKey, trustBundle);
    }
}
