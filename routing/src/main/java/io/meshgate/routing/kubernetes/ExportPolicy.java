package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.Service;
import java.util.Locale;
import java.util.Map;

/**
 * Which Services of a cluster other clusters may reach ({@code discovery.export}): the export
 * rule as a pure function of one Service, its namespace's labels and whether a
 * {@code ServiceExport} of the same name exists. A Service that is not exported never enters
 * the published route table, so it answers {@code no-such-service} everywhere.
 *
 * <p>Protected Services, everything in {@code kube-system} and {@code default/kubernetes} (the
 * API server), are exported only when named one by one in the cluster itself: by their own
 * label {@code meshgate.io/export: "true"} ({@code labelled}, {@code all}) or by their own
 * {@code ServiceExport} ({@code serviceExport}). A namespace label or {@code all} never sweeps
 * them in: exposing the API server must be a deliberate act on that very object, made by
 * someone allowed to change it, and visible with {@code kubectl get svc --show-labels}.
 *
 * <p>Under {@code labelled} and {@code all} a Service's own label, when present, decides alone:
 * {@code "true"} exports it, any other value (say {@code "false"}) keeps it in its cluster even
 * when its namespace is labelled, so one Service can opt out of an exported namespace.
 */
public enum ExportPolicy {

    /** The Service or its namespace carries {@code meshgate.io/export: "true"}. The default. */
    LABELLED,
    /** A {@code multicluster.x-k8s.io/v1alpha1 ServiceExport} of the same name exists in its namespace (KEP-1645). */
    SERVICE_EXPORT,
    /** Every Service (tests and labs), protected ones excepted. */
    ALL;

    /** The label on a Service or a Namespace that exports it under {@link #LABELLED}. */
    public static final String LABEL = "meshgate.io/export";

    /** The configuration spelling: {@code labelled}, {@code serviceExport}, {@code all}. */
    public String configName() {
        return switch (this) {
            case LABELLED -> "labelled";
            case SERVICE_EXPORT -> "serviceExport";
            case ALL -> "all";
        };
    }

    /** The policy spelled {@code name} in the config; {@link IllegalArgumentException} lists the valid ones. */
    public static ExportPolicy of(String name) {
        for (ExportPolicy p : values()) {
            if (p.configName().equals(name)) {
                return p;
            }
        }
        throw new IllegalArgumentException("expected labelled, serviceExport or all, got '" + name + "'");
    }

    /**
     * Whether {@code service} is exported.
     *
     * @param namespaceLabels the labels of the Service's namespace (empty when unknown)
     * @param serviceExport   whether a ServiceExport named like the Service exists in its namespace
     */
    public boolean exports(Service service, Map<String, String> namespaceLabels, boolean serviceExport) {
        String own = label(service.getMetadata().getLabels());
        boolean protectedService = isProtected(service.getMetadata().getNamespace(), service.getMetadata().getName());
        return switch (this) {
            case LABELLED -> "true".equals(own) || !protectedService && own == null && "true".equals(label(namespaceLabels));
            case SERVICE_EXPORT -> serviceExport;
            case ALL -> protectedService ? "true".equals(own) : own == null || "true".equals(own);
        };
    }

    /** {@code kube-system/*} and {@code default/kubernetes}: exported only when named one by one. */
    public static boolean isProtected(String namespace, String name) {
        return "kube-system".equals(namespace) || "default".equals(namespace) && "kubernetes".equals(name);
    }

    /** The export label's value, lower-cased and trimmed; null when absent. */
    private static String label(Map<String, String> labels) {
        String v = labels == null ? null : labels.get(LABEL);
        return v == null ? null : v.trim().toLowerCase(Locale.ROOT);
    }
}
