package io.meshgate.gateway;

import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

/**
 * The gateway's packages stay acyclic and depend only downwards (docs/architecture.md draws the
 * same layers). A new package joins a layer here; an import that runs upwards or closes a loop
 * fails the build.
 */
class LayeringTest {

    /** The gateway and the libraries it wires: routing, and tls (whose packages, e.g. tls and tls.pki, must not form a cycle either). */
    private static final JavaClasses MESHGATE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            // routing's test jar (MockApiServer, the real-cluster extension) is on this class path too
            .withImportOption(location -> !location.contains("-tests.jar"))
            .importPackages("io.meshgate.gateway", "io.meshgate.routing", "io.meshgate.tls");

    @Test
    void noPackageCycles() {
        slices().matching("io.meshgate.(**)").should().beFreeOfCycles().check(MESHGATE);
    }

    @Test
    void gatewayPackagesDependOnlyDownwards() {
        layeredArchitecture().consideringOnlyDependenciesInAnyPackage("io.meshgate.gateway..")
                .layer("cli").definedBy("io.meshgate.gateway.cli..")
                .layer("assembly").definedBy("io.meshgate.gateway")
                .layer("admin").definedBy("io.meshgate.gateway.admin..")
                .layer("discovery").definedBy("io.meshgate.gateway.discovery..")
                .layer("warmup").definedBy("io.meshgate.gateway.warmup..")
                .layer("terminate").definedBy("io.meshgate.gateway.terminate..")
                .layer("h2").definedBy("io.meshgate.gateway.h2..")
                .layer("direct").definedBy("io.meshgate.gateway.direct..")
                .layer("listener").definedBy("io.meshgate.gateway.listener..")
                .layer("upstream").definedBy("io.meshgate.gateway.upstream..")
                .layer("relay").definedBy("io.meshgate.gateway.relay..")
                .layer("metrics").definedBy("io.meshgate.gateway.metrics..")
                .layer("accesslog").definedBy("io.meshgate.gateway.accesslog..")
                .layer("outcome").definedBy("io.meshgate.gateway.outcome..")
                .layer("transport").definedBy("io.meshgate.gateway.transport..")
                .layer("config").definedBy("io.meshgate.gateway.config..")
                .whereLayer("cli").mayNotBeAccessedByAnyLayer()
                .whereLayer("assembly").mayOnlyBeAccessedByLayers("cli")
                .whereLayer("admin").mayOnlyBeAccessedByLayers("assembly")
                .whereLayer("discovery").mayOnlyBeAccessedByLayers("assembly")
                .whereLayer("warmup").mayOnlyBeAccessedByLayers("assembly")
                .whereLayer("terminate").mayOnlyBeAccessedByLayers("assembly")
                .whereLayer("h2").mayOnlyBeAccessedByLayers("assembly", "terminate")
                .whereLayer("direct").mayOnlyBeAccessedByLayers("assembly")
                .whereLayer("listener").mayOnlyBeAccessedByLayers("assembly", "warmup", "terminate", "h2", "direct")
                .whereLayer("upstream").mayOnlyBeAccessedByLayers("assembly", "warmup", "terminate", "h2", "listener", "direct")
                .whereLayer("relay").mayOnlyBeAccessedByLayers("assembly", "warmup", "terminate", "h2", "listener", "direct")
                .whereLayer("metrics").mayOnlyBeAccessedByLayers("assembly", "warmup", "terminate", "h2", "listener",
                        "upstream", "relay", "direct")
                .whereLayer("accesslog").mayOnlyBeAccessedByLayers("assembly", "terminate", "h2", "listener", "direct")
                .whereLayer("outcome").mayOnlyBeAccessedByLayers("assembly", "warmup", "terminate", "h2", "listener",
                        "upstream", "metrics", "direct")
                .whereLayer("transport").mayOnlyBeAccessedByLayers("assembly", "warmup", "terminate", "h2", "listener",
                        "upstream", "relay", "direct")
                .whereLayer("config").mayOnlyBeAccessedByLayers("cli", "assembly", "admin", "discovery", "warmup",
                        "terminate", "h2", "listener", "upstream", "relay", "metrics", "transport", "direct")
                .withOptionalLayers(true)
                .check(MESHGATE);
    }
}
