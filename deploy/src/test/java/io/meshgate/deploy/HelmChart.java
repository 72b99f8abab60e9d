package io.meshgate.deploy;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import java.nio.file.Path;
import java.util.Map;

/**
 * The chart {@code deploy/helm/meshgate} run through real Helm (helm-java: Helm's Go code as a
 * native library), so the checks see what {@code helm template} / {@code helm install} would send.
 */
final class HelmChart {

    static final String RELEASE = "meshgate";
    /** Without a cluster, helm template assumes a built-in (old) Kubernetes version; say which one we check against. */
    static final String KUBE_VERSION = "v1.30.0";

    private HelmChart() {}

    static Path chart() {
        return RenderedManifests.deployDir().resolve(Path.of("helm", "meshgate"));
    }

    /** An example values file of {@code deploy/helm/examples}, e.g. {@code cluster-a}. */
    static Path example(String cluster) {
        return RenderedManifests.deployDir().resolve(Path.of("helm", "examples", cluster + ".yaml"));
    }

    /**
     * {@code helm template meshgate deploy/helm/meshgate -n meshgate-system [-f VALUES] --set ...}.
     * {@code createNamespace=true} is always set: the Kustomize renderings carry the Namespace too.
     */
    static String template(Path valuesFile, Map<String, Object> set) {
        var template = new Helm(chart()).template().withName(RELEASE).withNamespace(ManifestsTest.NAMESPACE)
                .withKubeVersion(KUBE_VERSION).set("createNamespace", "true");
        if (valuesFile != null) {
            template = template.withValuesFile(valuesFile);
        }
        for (Map.Entry<String, Object> e : set.entrySet()) {
            template = template.set(e.getKey(), e.getValue());
        }
        try {
            return template.call();
        } catch (RuntimeException e) {
            throw new AssertionError("helm template " + chart() + " failed: " + e.getMessage(), e);
        }
    }

    /** {@code helm lint --strict} (warnings fail too). */
    static LintResult lint() {
        return new Helm(chart()).lint().strict().call();
    }
}
