package io.meshgate.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.WeightedPodAffinityTerm;
import io.fabric8.kubernetes.api.model.LifecycleHandler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.RoleRef;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.meshgate.gateway.config.MeshgateConfig;
import io.meshgate.gateway.config.MeshgateConfig.ListenerConfig;
import io.meshgate.gateway.config.MeshgateConfig.ListenerMode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * What must hold of every rendering meshgate ships (Kustomize and Helm), checked on the rendered
 * output: the pod talks to the ports and paths the gateway really serves, only east-west traffic
 * is exposed and only to the allowed sources, the egress listener stays inside the cluster, RBAC
 * grants what discovery, remote clusters and trust federation need and nothing more, the config
 * forms a mesh (exports, remote Secrets, trust federation), and it passes meshgate's own validation.
 */
class ManifestsTest {

    static final String NAMESPACE = "meshgate-system";
    static final String IDENTITY_SECRET = "meshgate-identity";
    static final String BUNDLE_SECRET = "meshgate-trust-bundle";
    static final String FEDERATION_ROOTS = "meshgate-root";
    static final String FEDERATION_BUNDLE = "meshgate-federated-bundle";

    @EveryRendering
    void everyFieldIsOneKubernetesKnows(String rendering) {
        for (HasMetadata o : RenderedManifests.of(rendering).objects()) {
            assertThat(UnknownFields.in(o)).as("%s %s: fields not in the Kubernetes schema", o.getKind(),
                    o.getMetadata().getName()).isEmpty();
        }
    }

    @EveryRendering
    void shippedConfigPassesMeshgateValidation(String rendering) {
        MeshgateConfig config = RenderedManifests.of(rendering).config();

        assertThat(config.admin().hostPort().host())
                .as("admin must listen on the pod IP so the kubelet's probes and Prometheus reach it")
                .isEqualTo("0.0.0.0");
        assertThat(config.discovery().clusters()).as("one local cluster").hasSize(1);
        assertThat(config.discovery().clusters().get(0).kubeconfig())
                .as("the local cluster is read in-cluster, through the pod's service account")
                .isNull();
        assertThat(config.listeners()).extracting(ListenerConfig::mode)
                .containsExactlyInAnyOrder(ListenerMode.PASSTHROUGH, ListenerMode.TERMINATE, ListenerMode.EGRESS);
    }

    @EveryRendering
    void configFormsAMesh(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        MeshgateConfig config = m.config();
        JsonNode tree = m.configTree();

        assertThat(tree.path("discovery").path("export").asText())
                .as("only Services labelled meshgate.io/export are reachable from other clusters").isEqualTo("labelled");
        assertThat(config.discovery().remoteSecrets()).as("other clusters join through remote Secrets").isNotNull();
        assertThat(config.discovery().remoteSecrets().namespace())
                .as("remote Secrets are read where the Role lets meshgate read Secrets").isEqualTo(NAMESPACE);

        JsonNode federation = tree.path("trust").path("federation");
        assertThat(federation.isObject()).as("trust.federation is configured").isTrue();
        assertThat(federation.path("rootsFrom").path("kind").asText()).isEqualTo("ConfigMap");
        assertThat(federation.path("rootsFrom").path("namespace").asText()).isEqualTo(NAMESPACE);
        assertThat(federation.path("rootsFrom").path("name").asText()).isEqualTo(FEDERATION_ROOTS);
        assertThat(federation.path("rootsFrom").path("key").asText()).isEqualTo("root-cert.pem");
        assertThat(federation.path("publish").path("namespace").asText()).isEqualTo(NAMESPACE);
        assertThat(federation.path("publish").path("name").asText()).isEqualTo(FEDERATION_BUNDLE);
        assertThat(federation.path("publish").path("key").asText()).isEqualTo("bundle.pem");
        assertThat(io.meshgate.gateway.config.Durations.parse(federation.path("removalGrace").asText()))
                .as("a vanished root stays trusted for a while").isPositive();
        List<String> keys = new java.util.ArrayList<>();
        federation.fieldNames().forEachRemaining(keys::add);
        assertThat(keys).as("trust.federation keys").containsExactlyInAnyOrder("rootsFrom", "publish", "removalGrace");
        // ...and as the gateway's own loader binds it (nothing the Role does not grant: no ClusterTrustBundles).
        MeshgateConfig.Federation bound = config.trust().federation();
        assertThat(bound).as("trust.federation as the gateway reads it").isNotNull();
        assertThat(bound.rootsFrom()).isEqualTo(new MeshgateConfig.RootsFrom("ConfigMap", NAMESPACE, FEDERATION_ROOTS, "root-cert.pem"));
        assertThat(bound.publish()).isEqualTo(new MeshgateConfig.Publish(NAMESPACE, FEDERATION_BUNDLE, "bundle.pem", false));
    }

    @EveryRendering
    void loadBalancerIsRestrictedToSourceRangesAndNamesItsIstioNetwork(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        Service service = m.eastWestService();
        String network = m.cluster().equals("local") ? "local" : "network-" + m.cluster().substring("cluster-".length());

        assertThat(service.getSpec().getLoadBalancerSourceRanges())
                .as("a LoadBalancer without source ranges is open to the internet").isNotEmpty()
                .noneMatch(r -> r.endsWith("/0"));
        for (String range : service.getSpec().getLoadBalancerSourceRanges()) {
            assertThat(range).as("CIDR").matches("\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}|[0-9a-fA-F:]+/\\d{1,3}");
        }
        assertThat(service.getSpec().getExternalTrafficPolicy())
                .as("Local keeps the callers' addresses, which loadBalancerSourceRanges filters on").isEqualTo("Local");
        assertThat(service.getMetadata().getLabels())
                .as("istiod finds a network's east-west gateway by this label")
                .containsEntry("topology.istio.io/network", network);
        assertThat(service.getSpec().getPorts()).extracting(ServicePort::getPort)
                .as("Istio dials a network gateway on 15443 unless networking.istio.io/gatewayPort says otherwise")
                .contains(15443);
    }

    @EveryRendering
    void egressListenerHasItsOwnClusterIpService(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        ListenerConfig egress = m.config().listeners().stream().filter(l -> l.mode() == ListenerMode.EGRESS)
                .findFirst().orElseThrow();
        Service service = m.egressService();

        assertThat(service.getSpec().getType()).as("egress is for this cluster's callers only").isEqualTo("ClusterIP");
        assertThat(service.getSpec().getPorts()).hasSize(1);
        ServicePort port = service.getSpec().getPorts().get(0);
        assertThat(m.resolvePort(port.getTargetPort())).isEqualTo(egress.hostPort().port());
        assertThat(port.getProtocol()).isEqualTo("TCP");
        assertThat(m.podLabels()).containsAllEntriesOf(service.getSpec().getSelector());
        assertThat(m.all(Service.class)).as("only the two Services").hasSize(2);
    }

    @EveryRendering
    void containerPortsAreTheListenerPortsAndTheAdminPort(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        MeshgateConfig config = m.config();

        Map<String, Integer> expected = new TreeMap<>();
        config.listeners().forEach(l -> expected.put(l.name(), l.hostPort().port()));
        expected.put("admin", config.admin().hostPort().port());
        Map<String, Integer> declared = m.container().getPorts().stream()
                .collect(Collectors.toMap(ContainerPort::getName, ContainerPort::getContainerPort, (a, b) -> a, TreeMap::new));

        assertThat(declared).as("container ports (named after the listeners) vs meshgate.yaml").isEqualTo(expected);
        assertThat(m.container().getPorts()).extracting(ContainerPort::getProtocol).containsOnly("TCP");
    }

    @EveryRendering
    void probesAskTheAdminPortForHealthAndReadiness(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        int admin = m.config().admin().hostPort().port();
        Container c = m.container();

        assertProbe(m, c.getLivenessProbe(), "liveness", "/healthz", admin);
        assertProbe(m, c.getReadinessProbe(), "readiness", "/readyz", admin);
        if (c.getStartupProbe() != null) {
            assertProbe(m, c.getStartupProbe(), "startup", "/healthz", admin);
        }
    }

    @EveryRendering
    void prometheusScrapesTheAdminMetrics(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        Map<String, String> annotations = m.deployment().getSpec().getTemplate().getMetadata().getAnnotations();

        assertThat(annotations)
                .containsEntry("prometheus.io/scrape", "true")
                .containsEntry("prometheus.io/port", String.valueOf(m.config().admin().hostPort().port()))
                .containsEntry("prometheus.io/path", "/metrics");
    }

    @EveryRendering
    void loadBalancerExposesOnlyTheEastWestListeners(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        MeshgateConfig config = m.config();
        Service service = m.eastWestService();
        int admin = config.admin().hostPort().port();
        Map<Integer, ListenerMode> listenerModes = config.listeners().stream()
                .filter(l -> l.mode() != ListenerMode.EGRESS)
                .collect(Collectors.toMap(l -> l.hostPort().port(), ListenerConfig::mode));

        assertThat(service.getSpec().getType()).isEqualTo("LoadBalancer");
        List<ServicePort> ports = service.getSpec().getPorts();
        for (ServicePort port : ports) {
            int target = m.resolvePort(port.getTargetPort());
            assertThat(port.getPort()).as("Service port %s", port.getName()).isNotEqualTo(admin);
            assertThat(target).as("Service port %s targets", port.getName()).isNotEqualTo(admin);
            assertThat(listenerModes).as("Service port %s targets a listener", port.getName()).containsKey(target);
            assertThat(port.getPort()).as("Service port %s is the listener's own port", port.getName()).isEqualTo(target);
            assertThat(port.getProtocol()).isEqualTo("TCP");
        }
        assertThat(ports).extracting(p -> m.resolvePort(p.getTargetPort()))
                .as("every east-west listener is reachable from other clusters")
                .containsExactlyInAnyOrderElementsOf(listenerModes.keySet());

        Map<String, ListenerMode> byName = ports.stream().collect(Collectors.toMap(
                ServicePort::getName, p -> listenerModes.get(m.resolvePort(p.getTargetPort()))));
        assertThat(byName).containsOnly(
                Map.entry("tls-passthrough", ListenerMode.PASSTHROUGH),
                Map.entry("tls-mtls", ListenerMode.TERMINATE));
    }

    @EveryRendering
    void serviceDisruptionBudgetAndAntiAffinitySelectTheGatewayPods(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        Map<String, String> pod = m.podLabels();

        assertSelects(m.deployment().getSpec().getSelector(), pod, "Deployment selector");
        for (Service service : m.all(Service.class)) {
            assertThat(service.getSpec().getSelector()).as("Service %s selector", service.getMetadata().getName()).isNotEmpty();
            assertThat(pod).as("Service %s selector", service.getMetadata().getName())
                    .containsAllEntriesOf(service.getSpec().getSelector());
        }

        PodDisruptionBudget pdb = m.only(PodDisruptionBudget.class);
        assertSelects(pdb.getSpec().getSelector(), pod, "PodDisruptionBudget selector");
        assertThat(pdb.getSpec().getMinAvailable().getIntVal()).isEqualTo(1);
        assertThat(pdb.getMetadata().getNamespace()).isEqualTo(m.deployment().getMetadata().getNamespace());

        assertThat(m.deployment().getSpec().getReplicas()).isEqualTo(2);
        List<WeightedPodAffinityTerm> spread = m.pod().getAffinity().getPodAntiAffinity()
                .getPreferredDuringSchedulingIgnoredDuringExecution();
        assertThat(spread).as("anti-affinity keeps the replicas on different nodes").isNotEmpty();
        for (WeightedPodAffinityTerm term : spread) {
            assertThat(term.getPodAffinityTerm().getTopologyKey()).isEqualTo("kubernetes.io/hostname");
            assertSelects(term.getPodAffinityTerm().getLabelSelector(), pod, "anti-affinity selector");
        }
    }

    @EveryRendering
    void rbacReadsDiscoveryAndOwnNamespaceSecretsAndWritesOnlyTheFederatedBundle(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);

        List<ClusterRole> clusterRoles = m.all(ClusterRole.class);
        assertThat(clusterRoles).hasSize(1);
        for (ClusterRole role : clusterRoles) {
            assertThat(role.getAggregationRule()).as("aggregation would pull in other roles' rules").isNull();
            assertThat(LeastPrivilege.violations(role.getRules(), LeastPrivilege.DISCOVERY))
                    .as("ClusterRole %s", role.getMetadata().getName()).isEmpty();
            assertThat(LeastPrivilege.readable(role.getRules()))
                    .as("discovery and its export rule need all of them").containsExactlyInAnyOrderElementsOf(LeastPrivilege.DISCOVERY);
        }
        List<Role> roles = m.all(Role.class);
        assertThat(roles).extracting(r -> r.getMetadata().getName())
                .containsExactlyInAnyOrder("meshgate-remote-secrets", "meshgate-trust-federation");
        for (Role role : roles) {
            assertThat(role.getMetadata().getNamespace()).as("Roles grant in meshgate's namespace only").isEqualTo(NAMESPACE);
        }
        Role secrets = roles.stream().filter(r -> r.getMetadata().getName().equals("meshgate-remote-secrets")).findFirst().orElseThrow();
        assertThat(LeastPrivilege.violations(secrets.getRules(), LeastPrivilege.REMOTE_SECRETS)).as("Role meshgate-remote-secrets").isEmpty();
        Role federation = roles.stream().filter(r -> r.getMetadata().getName().equals("meshgate-trust-federation")).findFirst().orElseThrow();
        assertThat(LeastPrivilege.federationViolations(federation.getRules(), FEDERATION_ROOTS, FEDERATION_BUNDLE))
                .as("Role meshgate-trust-federation").isEmpty();

        ServiceAccount account = m.only(ServiceAccount.class);
        assertThat(m.pod().getServiceAccountName()).isEqualTo(account.getMetadata().getName());
        for (ClusterRoleBinding binding : m.all(ClusterRoleBinding.class)) {
            assertBindsOnly(binding.getSubjects(), account);
            assertRefersTo(binding.getRoleRef(), "ClusterRole", clusterRoles);
        }
        for (RoleBinding binding : m.all(RoleBinding.class)) {
            assertThat(binding.getMetadata().getNamespace()).isEqualTo(NAMESPACE);
            assertBindsOnly(binding.getSubjects(), account);
            assertRefersTo(binding.getRoleRef(), "Role", roles);
        }
        assertThat(m.all(ClusterRoleBinding.class)).hasSize(1);
        assertThat(m.all(RoleBinding.class)).hasSize(2);
    }

    @EveryRendering
    void everyVolumeMountHasAVolumeAndSecretsAreMountedAsDirectories(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        for (VolumeMount mount : m.container().getVolumeMounts()) {
            Volume volume = m.volumeOf(mount);
            assertThat(mount.getSubPath()).as("mount %s: subPath would freeze the files (no rotation)", mount.getName()).isNull();
            assertThat(mount.getSubPathExpr()).as("mount %s", mount.getName()).isNull();
            if (volume.getSecret() != null || volume.getConfigMap() != null) {
                assertThat(mount.getReadOnly()).as("mount %s is read-only", mount.getName()).isTrue();
            }
        }
        assertThat(m.pod().getVolumes()).extracting(Volume::getName).doesNotHaveDuplicates();
    }

    @EveryRendering
    void configAndTlsFilesLieInTheMountedVolumes(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        MeshgateConfig.Tls tls = m.config().tls();
        String identity = m.secretMount(IDENTITY_SECRET).getMountPath();
        String bundle = m.secretMount(BUNDLE_SECRET).getMountPath();

        assertThat(Path.of(tls.certificateChain())).isEqualTo(Path.of(identity, "cert-chain.pem"));
        assertThat(Path.of(tls.privateKey())).isEqualTo(Path.of(identity, "key.pem"));
        assertThat(Path.of(tls.trustBundle())).isEqualTo(Path.of(bundle, "bundle.pem"));

        String configFile = Path.of(m.configMount().getMountPath(), RenderedManifests.CONFIG_KEY).toString();
        List<String> args = m.container().getArgs();
        assertThat(args).as("the container runs the mounted config").containsExactly("run", "--config", configFile);
    }

    @EveryRendering
    void gracePeriodCoversPreStopAndDrain(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        Duration drain = m.config().timeouts().drainDuration();
        long preStop = preStopSeconds(m.container().getLifecycle().getPreStop());
        long grace = m.pod().getTerminationGracePeriodSeconds();

        assertThat(preStop).as("preStop keeps serving while load balancers drop the pod").isPositive();
        assertThat(grace).as("terminationGracePeriodSeconds vs preStop %ss + timeouts.drain %s", preStop, drain)
                .isGreaterThan(preStop + drain.toSeconds());
    }

    @EveryRendering
    void podRunsNonRootWithReadOnlyRootAndNoCapabilities(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        PodSecurityContext pod = m.pod().getSecurityContext();
        SecurityContext container = m.container().getSecurityContext();

        assertThat(pod.getRunAsNonRoot()).isTrue();
        assertThat(pod.getRunAsUser()).as("a numeric non-root uid the kubelet can verify").isNotNull().isPositive();
        assertThat(pod.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
        assertThat(container.getReadOnlyRootFilesystem()).isTrue();
        assertThat(container.getAllowPrivilegeEscalation()).isFalse();
        assertThat(container.getPrivileged()).isNotEqualTo(Boolean.TRUE);
        assertThat(container.getRunAsUser()).as("container must not override the non-root uid").isNull();
        assertThat(container.getCapabilities().getDrop()).containsExactly("ALL");
        assertThat(container.getCapabilities().getAdd()).isNullOrEmpty();

        VolumeMount tmp = m.container().getVolumeMounts().stream()
                .filter(v -> v.getMountPath().equals("/tmp")).findFirst()
                .orElseThrow(() -> new AssertionError("read-only root: Netty needs a writable /tmp for its native libraries"));
        assertThat(m.volumeOf(tmp).getEmptyDir()).isNotNull();
    }

    @EveryRendering
    void jvmIsSizedByTheContainerLimits(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        Container c = m.container();

        assertThat(c.getResources().getRequests()).containsKeys("cpu", "memory");
        assertThat(c.getResources().getLimits()).containsKeys("cpu", "memory");
        String options = c.getEnv().stream()
                .filter(e -> e.getName().equals("JAVA_TOOL_OPTIONS"))
                .map(EnvVar::getValue).findFirst()
                .orElseThrow(() -> new AssertionError("JAVA_TOOL_OPTIONS is not set"));
        assertThat(options).contains("-XX:MaxRAMPercentage=").doesNotContain("-Xmx", "-XX:MaxHeapSize");
    }

    @EveryRendering
    void namespacedObjectsLiveInMeshgateSystem(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        Set<Class<?>> clusterScoped = Set.of(Namespace.class, ClusterRole.class, ClusterRoleBinding.class);

        assertThat(m.only(Namespace.class).getMetadata().getName()).isEqualTo(NAMESPACE);
        for (HasMetadata o : m.objects()) {
            if (!clusterScoped.contains(o.getClass())) {
                assertThat(o.getMetadata().getNamespace()).as("%s %s", o.getKind(), o.getMetadata().getName())
                        .isEqualTo(NAMESPACE);
            }
        }
    }

    @EveryRendering
    void overlaysNameTheirClusterInConfigAndLabels(String rendering) {
        RenderedManifests m = RenderedManifests.of(rendering);
        String expected = m.cluster();

        assertThat(m.config().discovery().clusters().get(0).name()).isEqualTo(expected);
        if (!expected.equals("local")) {
            for (HasMetadata o : m.objects()) {
                assertThat(o.getMetadata().getLabels()).as("%s %s", o.getKind(), o.getMetadata().getName())
                        .containsEntry("meshgate.io/cluster", expected);
            }
            assertThat(m.podLabels()).containsEntry("meshgate.io/cluster", expected);
        }
    }

    private static void assertProbe(RenderedManifests m, Probe probe, String what, String path, int adminPort) {
        assertThat(probe).as("%s probe", what).isNotNull();
        assertThat(probe.getHttpGet()).as("%s probe is an HTTP GET", what).isNotNull();
        assertThat(probe.getHttpGet().getPath()).as("%s probe path", what).isEqualTo(path);
        assertThat(m.resolvePort(probe.getHttpGet().getPort())).as("%s probe port", what).isEqualTo(adminPort);
        assertThat(probe.getHttpGet().getScheme()).as("%s probe scheme (admin is plain HTTP)", what)
                .isIn(null, "HTTP");
    }

    private static void assertSelects(LabelSelector selector, Map<String, String> podLabels, String what) {
        assertThat(selector).as(what).isNotNull();
        assertThat(selector.getMatchExpressions()).as(what + " uses matchLabels only").isNullOrEmpty();
        assertThat(selector.getMatchLabels()).as(what).isNotEmpty();
        assertThat(podLabels).as(what + " matches the pod template").containsAllEntriesOf(selector.getMatchLabels());
    }

    private static void assertBindsOnly(List<Subject> subjects, ServiceAccount account) {
        assertThat(subjects).hasSize(1);
        Subject s = subjects.get(0);
        assertThat(s.getKind()).isEqualTo("ServiceAccount");
        assertThat(s.getName()).isEqualTo(account.getMetadata().getName());
        assertThat(s.getNamespace()).isEqualTo(account.getMetadata().getNamespace());
    }

    private static void assertRefersTo(RoleRef ref, String kind, List<? extends HasMetadata> roles) {
        assertThat(ref.getKind()).isEqualTo(kind);
        assertThat(roles).extracting(r -> r.getMetadata().getName()).contains(ref.getName());
    }

    /** The pause before SIGTERM: {@code exec: [sleep, N]} or Kubernetes' {@code sleep.seconds}. */
    static long preStopSeconds(LifecycleHandler preStop) {
        assertThat(preStop).as("preStop hook").isNotNull();
        if (preStop.getSleep() != null) {
            return preStop.getSleep().getSeconds();
        }
        List<String> command = preStop.getExec() == null ? List.of() : preStop.getExec().getCommand();
        assertThat(command).as("preStop is `sleep N`").hasSize(2).first().isEqualTo("sleep");
        return Long.parseLong(command.get(1));
    }
}
