package io.meshgate.gateway.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshgate.gateway.config.GatewaySpec.FederationSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code trust.federation}: off unless present, documented defaults, every bad key named. */
class FederationConfigTest {

    @TempDir
    Path dir;

    private static final String BASE = """
            listeners:
              - name: eastwest
                address: 0.0.0.0:15443
            discovery:
              clusters:
                - name: cluster-a
            """;

    private GatewaySpec spec(String yaml) throws Exception {
        Path f = dir.resolve("meshgate.yaml");
        Files.writeString(f, yaml);
        return ConfigLoader.loadSpec(f);
    }

    @Test
    void offWhenAbsentAndContractDefaultsWhenEmpty() throws Exception {
        assertThat(spec(BASE).federation()).isEmpty();
        assertThat(spec(BASE + "trust: {}\n").federation()).isEmpty();
        FederationSpec f = spec(BASE + "trust: {federation: {}}\n").federation().orElseThrow();
        assertThat(f.rootsFrom()).isEqualTo(new GatewaySpec.RootsSourceSpec("ConfigMap", "meshgate-system", "meshgate-root",
                "root-cert.pem"));
        assertThat(f.publish()).isEqualTo(new GatewaySpec.PublishSpec("meshgate-system", "meshgate-federated-bundle",
                "bundle.pem", false, "meshgate.io/federation"));
        assertThat(f.removalGrace()).isEqualTo(Duration.ofHours(1));
    }

    @Test
    void readsEveryKey() throws Exception {
        FederationSpec f = spec(BASE + """
                trust:
                  federation:
                    rootsFrom: {kind: Secret, namespace: istio-system, name: cacerts, key: root-cert.pem}
                    publish: {namespace: mesh, name: roots, key: ca.crt, clusterTrustBundle: true}
                    removalGrace: 0s
                """).federation().orElseThrow();
        assertThat(f.rootsFrom()).isEqualTo(new GatewaySpec.RootsSourceSpec("Secret", "istio-system", "cacerts", "root-cert.pem"));
        assertThat(f.publish()).isEqualTo(new GatewaySpec.PublishSpec("mesh", "roots", "ca.crt", true, "meshgate.io/federation"));
        assertThat(f.removalGrace()).isZero();
    }

    @Test
    void namesEveryBadKey() {
        refused("trust: {federation: {rootsFrom: {kind: Deployment}}}", "trust.federation.rootsFrom.kind: 'Deployment'");
        refused("trust: {federation: {rootsFrom: {namespace: Bad_NS}}}", "trust.federation.rootsFrom.namespace");
        refused("trust: {federation: {rootsFrom: {name: 'a/b'}}}", "trust.federation.rootsFrom.name");
        refused("trust: {federation: {rootsFrom: {key: 'a b'}}}", "trust.federation.rootsFrom.key");
        refused("trust: {federation: {publish: {namespace: ''}}}", "trust.federation.publish.namespace");
        refused("trust: {federation: {publish: {name: -x}}}", "trust.federation.publish.name");
        refused("trust: {federation: {publish: {key: 'k:y'}}}", "trust.federation.publish.key");
        refused("trust: {federation: {removalGrace: -1s}}", "trust.federation.removalGrace");
        refused("trust: {federation: {removalGrace: soon}}", "trust.federation.removalGrace");
        refused("trust: {federation: {publish: {signer: x}}}", "'signer'");
    }

    @Test
    void needsALocalClusterToPublishInto() throws Exception {
        Path kubeconfig = Files.writeString(dir.resolve("b.kubeconfig"), "apiVersion: v1\n");
        assertThatThrownBy(() -> spec("""
                listeners: [{name: eastwest, address: 0.0.0.0:15443}]
                discovery: {clusters: [{name: b, kubeconfig: %s, remote: true}]}
                trust: {federation: {}}
                """.formatted(kubeconfig))).isInstanceOf(ConfigException.class)
                .hasMessageContaining("trust.federation: needs a local cluster");
    }

    private void refused(String yaml, String message) {
        assertThatThrownBy(() -> spec(BASE + yaml + "\n")).isInstanceOf(ConfigException.class).hasMessageContaining(message);
    }
}
