package io.meshgate.tls.pki;

/** A PKI request that cannot be carried out as asked (bad argument, missing or unsuitable CA files): exit code 2. */
public final class PkiException extends Exception {

    public PkiException(String message) {
        super(message);
    }

    public PkiException(String message, Throwable cause) {
        super(message, cause);
    }
}
