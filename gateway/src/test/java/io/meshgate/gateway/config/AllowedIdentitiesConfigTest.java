package io.meshgate.gateway.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.meshgate.tls.AllowedIdentities;
import io.meshgate.tls.SpiffeId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tls.allowedIdentities}: empty by default, exact IDs and {@code *} prefixes, every bad entry named by its key. */
class AllowedIdentitiesConfigTest {

    @TempDir
    Path dir;

    @BeforeEach
    void files() throws Exception {
        for (String f : List.of("chain.pem", "key.pem", "bundle.pem")) {
            Files.writeString(dir.resolve(f), "");
        }
    }

    private GatewaySpec spec(String tlsExtra) throws Exception {
        Path f = dir.resolve("meshgate.yaml");
        Files.writeString(f, """
                listeners:
                  - name: eastwest-mtls
                    address: 0.0.0.0:15443
                    mode: terminate
                tls:
                  certificateChain: chain.pem
                  privateKey: key.pem
                  trustBundle: bundle.pem
                """ + tlsExtra);
        return ConfigLoader.loadSpec(f);
    }

    private AllowedIdentities allowed(String tlsExtra) throws Exception {
        return spec(tlsExtra).tls().orElseThrow().allowedIdentities();
    }

    @Test
    void emptyByDefaultSoEveryIdentityOfAnAllowedTrustDomainPasses() throws Exception {
        assertThat(Defaults.ALLOWED_IDENTITIES).isEmpty();
        assertThat(allowed("")).isSameAs(AllowedIdentities.ANY);
        assertThat(allowed("  allowedIdentities: []\n").isEmpty()).isTrue();
    }

    @Test
    void readsExactIdsAndPrefixes() throws Exception {
        AllowedIdentities a = allowed("""
                  allowedTrustDomains: [cluster.local]
                  allowedIdentities:
                    - spiffe://cluster.local/ns/default/*
                    - spiffe://cluster.local/ns/payments/sa/api
                """);
        assertThat(a.entries()).containsExactly("spiffe://cluster.local/ns/default/*", "spiffe://cluster.local/ns/payments/sa/api");
        assertThat(a.allows(SpiffeId.parse("spiffe://cluster.local/ns/default/sa/sleep"))).isTrue();
        assertThat(a.allows(SpiffeId.parse("spiffe://cluster.local/ns/payments/sa/api"))).isTrue();
        assertThat(a.allows(SpiffeId.parse("spiffe://cluster.local/ns/payments/sa/batch"))).isFalse();
    }

    @Test
    void namesEveryBadEntryByItsKey() {
        refused("  allowedIdentities: [cluster.local/ns/default/sa/sleep]\n",
                "tls.allowedIdentities[0]: 'cluster.local/ns/default/sa/sleep': must start with spiffe://");
        refused("  allowedIdentities: [spiffe://cluster.local/ns/default/sa/sleep, 'spiffe://cluster.local/*/sa/sleep']\n",
                "tls.allowedIdentities[1]: 'spiffe://cluster.local/*/sa/sleep': '*' is allowed only at the end");
        refused("  allowedIdentities: ['spiffe://cluster.*']\n", "tls.allowedIdentities[0]", "whole trust domain");
        refused("  allowedIdentities: ['spiffe://Cluster.local/ns/a']\n", "tls.allowedIdentities[0]", "lowercase");
        refused("  allowedIdentities: ['']\n", "tls.allowedIdentities[0]", "empty");
        refused("  allowedTrustDomains: [cluster.local]\n  allowedIdentities: ['spiffe://other.example/*']\n",
                "tls.allowedIdentities[0]", "trust domain other.example is not in tls.allowedTrustDomains");
        refused("  allowedIdentities: spiffe://cluster.local/ns/default/*\n", "allowedIdentities");
    }

    private void refused(String tlsExtra, String... fragments) {
        assertThatThrownBy(() -> spec(tlsExtra)).isInstanceOf(ConfigException.class).hasMessageContainingAll(fragments);
    }
}
