package io.meshgate.gateway.h2;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.meshgate.gateway.testing.MeshPki;
import io.meshgate.gateway.testing.RunningGateway;
import io.meshgate.gateway.testing.TlsPeers;
import io.meshgate.tls.pki.IssuedIdentity;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real peer: curl (nghttp2) with a client certificate negotiates h2 with the gateway and is
 * balanced per request; several URLs on one curl command share one connection.
 */
class Http2CurlTest {

    @TempDir
    Path dir;

    static boolean curlSpeaksH2() {
        try {
            Process p = new ProcessBuilder("curl", "-V").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            return p.waitFor(10, TimeUnit.SECONDS) && out.contains("HTTP2");
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void shouldServeCurlOverH2WithAClientCertificateAcrossAllEndpoints() throws Exception {
        assumeTrue(curlSpeaksH2(), "curl with HTTP2 support is not installed");
        MeshPki pki = new MeshPki();
        pki.writeGatewayFiles(dir, pki.clusterA, pki.clusterB);
        Path caller = Files.createDirectories(dir.resolve("caller"));
        pki.callerB.write(caller);
        Files.writeString(dir.resolve("root.pem"), io.meshgate.tls.Pem.encode(new Object[] {pki.clusterA.rootCert()}));
        try (H2Backend a = new H2Backend("a", pki.backend, List.of(pki.clusterA.rootCert()));
             H2Backend b = new H2Backend("b", pki.backend, List.of(pki.clusterA.rootCert()));
             H2Backend c = new H2Backend("c", pki.backend, List.of(pki.clusterA.rootCert()));
             RunningGateway gw = RunningGateway.start(dir, MeshPki.terminateConfig(dir, "http2", "mtls",
                     a.endpoint() + "\", \"" + b.endpoint() + "\", \"" + c.endpoint(), "loadBalancing: {policy: round-robin}"))) {
            int port = gw.address().getPort();
            String base = "https://" + TlsPeers.SNI + ":" + port;
            List<String> cmd = new ArrayList<>(List.of("curl", "-sS", "--http2", "--max-time", "20",
                    "--resolve", TlsPeers.SNI + ":" + port + ":127.0.0.1",
                    "--cacert", dir.resolve("root.pem").toString(),
                    "--cert", caller.resolve(IssuedIdentity.CERT_CHAIN).toString(),
                    "--key", caller.resolve(IssuedIdentity.KEY).toString(),
                    "-w", "[%{http_version} %{http_code}]\\n"));
            for (int i = 0; i < 9; i++) {
                cmd.add(base + "/echo");
            }
            Process curl = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(curl.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(curl.exitValue()).as(out).isZero();
            assertThat(out).contains("[2 200]");
            // One connection (curl reuses it for every URL), three endpoints, three streams each.
            assertThat(out.split("a\\[2 200]", -1)).hasSize(4);
            assertThat(out.split("b\\[2 200]", -1)).hasSize(4);
            assertThat(out.split("c\\[2 200]", -1)).hasSize(4);
            assertThat(gw.outcomes("eastwest-mtls", "routed")).isEqualTo(1);
            assertThat(a.requests).allSatisfy(h -> assertThat(h.get("x-forwarded-client-cert").toString())
                    .contains("URI=" + MeshPki.CALLER_ID));
        }
    }
}
