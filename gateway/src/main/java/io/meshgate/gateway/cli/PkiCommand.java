package io.meshgate.gateway.cli;

import io.meshgate.tls.SpiffeId;
import io.meshgate.tls.TrustBundle;
import io.meshgate.tls.TrustRoot;
import io.meshgate.tls.pki.ClusterCa;
import io.meshgate.tls.pki.FederatedBundle;
import io.meshgate.tls.pki.IssuedIdentity;
import io.meshgate.tls.pki.KeyType;
import io.meshgate.tls.pki.PkiException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code meshgate pki}: the certificate authority commands a user needs to join clusters into one
 * mesh (a CA per cluster in Istio's plug-in layout, workload certificates, the federated bundle).
 * User mistakes print one line on stderr and exit 2; I/O failures exit 1; never a stack trace.
 */
@Command(name = "pki", mixinStandardHelpOptions = true,
        description = "Mesh PKI: per-cluster CAs (EC P-256 or RSA 2048), workload certificates, federated trust bundles.",
        subcommands = {PkiCommand.InitCluster.class, PkiCommand.Issue.class, PkiCommand.Bundle.class})
public final class PkiCommand implements Callable<Integer> {

    static final int USAGE = 2;
    static final int FAILURE = 1;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return USAGE;
    }

    /** Runs one subcommand body, mapping its failures to meshgate's exit codes (0 ok, 2 usage, 1 other). */
    private static int run(CommandSpec spec, Step step) {
        PrintWriter err = spec.commandLine().getErr();
        String name = spec.qualifiedName(" ").replaceFirst("^.*?pki ", "pki ");
        try {
            step.run(spec.commandLine().getOut());
            spec.commandLine().getOut().flush();
            return 0;
        } catch (PkiException | IllegalArgumentException e) {
            err.println(name + ": " + e.getMessage());
            return USAGE;
        } catch (IOException | RuntimeException e) {
            err.println(name + ": " + e);
            return FAILURE;
        } finally {
            err.flush();
        }
    }

    @FunctionalInterface
    private interface Step {
        void run(PrintWriter out) throws PkiException, IOException;
    }

    @Command(name = "init-cluster", mixinStandardHelpOptions = true,
            description = "Creates a cluster's root CA (10 years) and intermediate CA (5 years): root-cert.pem, "
                    + "root-key.pem, ca-cert.pem, ca-key.pem, cert-chain.pem (Istio plug-in CA files).")
    static final class InitCluster implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--name", required = true, description = "Cluster name (certificate subject O).")
        String name;

        @Option(names = "--trust-domain", required = true, description = "SPIFFE trust domain, e.g. cluster.local.")
        String trustDomain;

        @Option(names = "--out", required = true, description = "Directory for the CA files.")
        Path out;

        @Option(names = "--force", description = "Replace CA files already in --out.")
        boolean force;

        @Option(names = "--key-type", defaultValue = "ec-p256",
                description = "Key type of the root and intermediate: ec-p256 or rsa-2048 (default: ${DEFAULT-VALUE}).")
        String keyType;

        @Override
        public Integer call() {
            return run(spec, stdout -> {
                ClusterCa ca = ClusterCa.create(name, trustDomain, Instant.now(), KeyType.parse(keyType));
                ca.write(out, force);
                stdout.println("wrote " + String.join(", ", ClusterCa.FILES) + " to " + out);
                stdout.println("root " + TrustRoot.of(ca.rootCert()).sha256() + " (" + name + ", trust domain "
                        + trustDomain + ", expires " + ca.rootCert().getNotAfter().toInstant() + ")");
            });
        }
    }

    @Command(name = "issue", mixinStandardHelpOptions = true,
            description = "Issues a workload certificate (serverAuth+clientAuth, SPIFFE URI SAN) signed by the "
                    + "cluster's intermediate: cert.pem, key.pem, cert-chain.pem (leaf+intermediate).")
    static final class Issue implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--ca", required = true, description = "Directory written by pki init-cluster.")
        Path ca;

        @Option(names = "--spiffe", required = true, description = "SPIFFE ID, e.g. spiffe://cluster.local/ns/default/sa/sleep.")
        String spiffe;

        @Option(names = "--dns", description = "DNS SAN (repeatable).")
        List<String> dns = new ArrayList<>();

        @Option(names = "--days", defaultValue = "90", description = "Validity in days (default: ${DEFAULT-VALUE}).")
        int days;

        @Option(names = "--out", required = true, description = "Directory for cert.pem, key.pem, cert-chain.pem.")
        Path out;

        @Option(names = "--key-type", defaultValue = "ec-p256",
                description = "Key type of the workload key: ec-p256 or rsa-2048 (default: ${DEFAULT-VALUE}).")
        String keyType;

        @Override
        public Integer call() {
            return run(spec, stdout -> {
                SpiffeId id = SpiffeId.parse(spiffe);
                if (days <= 0) {
                    throw new PkiException("--days must be positive, got " + days);
                }
                IssuedIdentity issued = ClusterCa.load(ca).issue(id, dns, Duration.ofDays(days), Instant.now(),
                        KeyType.parse(keyType));
                issued.write(out);
                stdout.println("wrote " + IssuedIdentity.CERT + ", " + IssuedIdentity.KEY + ", " + IssuedIdentity.CERT_CHAIN
                        + " to " + out + " for " + id + " (expires " + issued.leaf().getNotAfter().toInstant() + ")");
            });
        }
    }

    @Command(name = "bundle", mixinStandardHelpOptions = true,
            description = "Writes the federated trust bundle: every root, validated (self-signed CA, not expired), "
                    + "deduplicated.")
    static final class Bundle implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--out", required = true, description = "Bundle file to write.")
        Path out;

        @Parameters(arity = "1..*", paramLabel = "ROOT.pem", description = "Root certificate files (root-cert.pem of each cluster).")
        List<Path> roots;

        @Option(names = "--format", defaultValue = "pem",
                description = "pem (concatenated roots) or spiffe (SPIFFE bundle: JWK set, use x509-svid) (default: ${DEFAULT-VALUE}).")
        String format;

        @Option(names = "--trust-domain", description = "With --format spiffe: the trust domain the bundle is published for (checked, printed).")
        String trustDomain;

        @Override
        public Integer call() {
            return run(spec, stdout -> {
                if (!format.equals("pem") && !format.equals("spiffe")) {
                    throw new PkiException("--format '" + format + "': expected pem or spiffe");
                }
                if (trustDomain != null && SpiffeId.trustDomainProblem(trustDomain) != null) {
                    throw new PkiException("--trust-domain '" + trustDomain + "': " + SpiffeId.trustDomainProblem(trustDomain));
                }
                Instant now = Instant.now();
                TrustBundle bundle;
                if (format.equals("pem")) {
                    bundle = FederatedBundle.write(roots, out, now);
                } else {
                    bundle = FederatedBundle.merge(roots, out, now);
                    String json = new com.fasterxml.jackson.databind.ObjectMapper()
                            .writerWithDefaultPrettyPrinter().writeValueAsString(io.meshgate.tls.SpiffeBundle.of(bundle.certificates(),
                                    now.getEpochSecond(), io.meshgate.tls.SpiffeBundle.DEFAULT_REFRESH_HINT_SECONDS));
                    io.meshgate.tls.Pem.writeAtomically(out, json + "\n", false);
                }
                stdout.println("wrote " + bundle.roots().size() + " root(s) to " + out + (format.equals("spiffe")
                        ? " as a SPIFFE bundle" + (trustDomain == null ? "" : " for trust domain " + trustDomain) : ""));
                for (TrustRoot root : bundle.roots()) {
                    stdout.println("  " + root.sha256() + "  " + root.subject() + "  expires " + root.notAfter());
                }
            });
        }
    }
}
