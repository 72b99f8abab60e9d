package io.meshgate.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.KubernetesList;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.meshgate.gateway.config.ConfigLoader;
import io.meshgate.gateway.config.MeshgateConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One rendering (a kustomization or the Helm chart with some values) parsed into fabric8 objects,
 * with the few lookups every check needs (the gateway Deployment, its container, the Services,
 * the mounted ConfigMap and the config inside it).
 */
final class RenderedManifests {

    /** Where the Deployment mounts the ConfigMap and what the container is told to run. */
    static final String CONFIG_KEY = "meshgate.yaml";

    private static final Map<String, RenderedManifests> CACHE = new ConcurrentHashMap<>();
    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
    private static final YAMLMapper YAML = new YAMLMapper();

    private final String name;
    private final List<HasMetadata> objects;

    private RenderedManifests(String name, List<HasMetadata> objects) {
        this.name = name;
        this.objects = List.copyOf(objects);
    }

    /** The module's folder ({@code deploy/}): Surefire runs tests there and sets {@code basedir}. */
    static Path deployDir() {
        return Path.of(System.getProperty("basedir", ".")).toAbsolutePath().normalize();
    }

    /**
     * Renders once per test run: {@code helm} is the chart with its defaults, {@code helm/NAME} the
     * chart with {@code deploy/helm/examples/NAME.yaml}; anything else is a kustomization under
     * {@code deploy/}.
     */
    static RenderedManifests of(String source) {
        return CACHE.computeIfAbsent(source, s -> parse(s, render(s)));
    }

    private static String render(String source) {
        if (source.equals("helm")) {
            return HelmChart.template(null, Map.of());
        }
        if (source.startsWith("helm/")) {
            return HelmChart.template(HelmChart.example(source.substring("helm/".length())), Map.of());
        }
        return Kustomize.render(deployDir().resolve(source));
    }

    /** The cluster a rendering is for: {@code overlays/cluster-a} and {@code helm/cluster-a} are cluster-a; base and chart defaults "local". */
    String cluster() {
        int slash = name.lastIndexOf('/');
        return slash < 0 ? "local" : name.substring(slash + 1);
    }

    static RenderedManifests parse(String name, String yaml) {
        Object parsed = SERIALIZATION.unmarshal(yaml);
        List<HasMetadata> objects;
        if (parsed instanceof KubernetesList list) {
            objects = list.getItems();
        } else if (parsed instanceof List<?> list) {
            objects = list.stream().map(HasMetadata.class::cast).toList();
        } else {
            objects = List.of((HasMetadata) parsed);
        }
        assertThat(objects).as("%s renders to no objects", name).isNotEmpty();
        return new RenderedManifests(name, objects);
    }

    String name() {
        return name;
    }

    List<HasMetadata> objects() {
        return objects;
    }

    <T extends HasMetadata> List<T> all(Class<T> kind) {
        return objects.stream().filter(kind::isInstance).map(kind::cast).toList();
    }

    <T extends HasMetadata> T only(Class<T> kind) {
        List<T> found = all(kind);
        assertThat(found).as("%s: exactly one %s", name, kind.getSimpleName()).hasSize(1);
        return found.get(0);
    }

    Deployment deployment() {
        return only(Deployment.class);
    }

    PodSpec pod() {
        return deployment().getSpec().getTemplate().getSpec();
    }

    Map<String, String> podLabels() {
        return deployment().getSpec().getTemplate().getMetadata().getLabels();
    }

    Container container() {
        List<Container> containers = pod().getContainers();
        assertThat(containers).as("%s: the gateway pod has one container", name).hasSize(1);
        return containers.get(0);
    }

    /** The east-west Service other clusters dial (the LoadBalancer). */
    Service eastWestService() {
        return service("meshgate");
    }

    /** The egress listener's Service, for this cluster's callers only. */
    Service egressService() {
        return service("meshgate-egress");
    }

    Service service(String serviceName) {
        return all(Service.class).stream()
                .filter(s -> s.getMetadata().getName().equals(serviceName))
                .findFirst()
                .orElseThrow(() -> new AssertionError(name + ": no Service " + serviceName));
    }

    /** The volume a mount refers to; fails naming the mount when there is none. */
    Volume volumeOf(VolumeMount mount) {
        return pod().getVolumes().stream()
                .filter(v -> v.getName().equals(mount.getName()))
                .findFirst()
                .orElseThrow(() -> new AssertionError(name + ": volumeMount '" + mount.getName() + "' at "
                        + mount.getMountPath() + " has no volume"));
    }

    /** The mount whose volume is the Secret {@code secretName}. */
    VolumeMount secretMount(String secretName) {
        return container().getVolumeMounts().stream()
                .filter(m -> {
                    Volume v = volumeOf(m);
                    return v.getSecret() != null && secretName.equals(v.getSecret().getSecretName());
                })
                .findFirst()
                .orElseThrow(() -> new AssertionError(name + ": no volumeMount of Secret " + secretName));
    }

    /** The mount whose volume is a ConfigMap holding {@code meshgate.yaml}, and that ConfigMap. */
    VolumeMount configMount() {
        return container().getVolumeMounts().stream()
                .filter(m -> volumeOf(m).getConfigMap() != null)
                .findFirst()
                .orElseThrow(() -> new AssertionError(name + ": no ConfigMap is mounted"));
    }

    ConfigMap configMap() {
        String cmName = volumeOf(configMount()).getConfigMap().getName();
        return all(ConfigMap.class).stream()
                .filter(c -> c.getMetadata().getName().equals(cmName))
                .findFirst()
                .orElseThrow(() -> new AssertionError(name + ": the mounted ConfigMap " + cmName + " is not rendered"));
    }

    String meshgateYaml() {
        String yaml = configMap().getData() == null ? null : configMap().getData().get(CONFIG_KEY);
        assertThat(yaml).as("%s: ConfigMap %s has key %s", name, configMap().getMetadata().getName(), CONFIG_KEY)
                .isNotNull();
        return yaml;
    }

    /** The shipped config, parsed and validated by meshgate itself (files live in the pod, so not checked here). */
    MeshgateConfig config() {
        return ConfigLoader.parse(meshgateYaml()).validate(null, false);
    }

    /** The shipped config as a YAML tree, for keys the checks read as written. */
    JsonNode configTree() {
        try {
            return YAML.readTree(meshgateYaml());
        } catch (java.io.IOException e) {
            throw new AssertionError(name + ": meshgate.yaml is not YAML: " + e.getMessage(), e);
        }
    }

    /** A container port by number or name, as probes and Service targetPorts may give it. */
    int resolvePort(IntOrString port) {
        Objects.requireNonNull(port, "port");
        if (port.getIntVal() != null) {
            return port.getIntVal();
        }
        return container().getPorts().stream()
                .filter(p -> port.getStrVal().equals(p.getName()))
                .mapToInt(ContainerPort::getContainerPort)
                .findFirst()
                .orElseThrow(() -> new AssertionError(name + ": no container port named '" + port.getStrVal() + "'"));
    }

    @Override
    public String toString() {
        return name;
    }
}
