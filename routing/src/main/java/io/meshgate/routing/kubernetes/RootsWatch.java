package io.meshgate.routing.kubernetes;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.Objects;

/**
 * Watches (never polls) the one object in which a cluster publishes its own roots
 * ({@code trust.federation.rootsFrom}: a ConfigMap or Secret, one key of PEM text) through that
 * cluster's own API client, and reports every change of that key's text to the listener: the text,
 * or null when the object or the key is gone. What the text means (certificates, validity,
 * membership) is the listener's business. Only get/list/watch on that one object is needed.
 */
public final class RootsWatch implements AutoCloseable {

    /** Where every cluster publishes its roots. {@code kind}: {@code ConfigMap} or {@code Secret}. */
    public record Source(String kind, String namespace, String name, String key) {
        public Source {
            if (!"ConfigMap".equals(kind) && !"Secret".equals(kind)) {
                throw new IllegalArgumentException("rootsFrom.kind must be ConfigMap or Secret, not " + kind);
            }
            Objects.requireNonNull(namespace, "rootsFrom.namespace");
            Objects.requireNonNull(name, "rootsFrom.name");
            Objects.requireNonNull(key, "rootsFrom.key");
        }

        @Override
        public String toString() {
            return kind + " " + namespace + "/" + name + " key " + key;
        }
    }

    /** Receives a cluster's published roots: PEM text, or null when nothing is published (any more). */
    @FunctionalInterface
    public interface Listener {
        void roots(String cluster, String pem);
    }

    private final String cluster;
    private final KubernetesClient client;
    private final Source source;
    private final Listener listener;
    private SharedIndexInformer<? extends HasMetadata> informer;
    private String last;
    private boolean reported;

    public RootsWatch(String cluster, KubernetesClient client, Source source, Listener listener) {
        this.cluster = cluster;
        this.client = client;
        this.source = source;
        this.listener = listener;
    }

    /** Starts the informer on the one object; events arrive on fabric8's informer thread. */
    public synchronized RootsWatch start() {
        if (informer == null) {
            informer = source.kind().equals("ConfigMap")
                    ? client.configMaps().inNamespace(source.namespace()).withName(source.name()).inform(handler(this::text))
                    : client.secrets().inNamespace(source.namespace()).withName(source.name()).inform(handler(this::text));
        }
        return this;
    }

    private <T extends HasMetadata> ResourceEventHandler<T> handler(java.util.function.Function<T, String> read) {
        return new ResourceEventHandler<>() {
            @Override
            public void onAdd(T obj) {
                changed(read.apply(obj));
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                changed(read.apply(newObj));
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                changed(null);
            }
        };
    }

    private String text(HasMetadata obj) {
        if (obj instanceof ConfigMap cm) {
            return value(cm.getData());
        }
        Secret s = (Secret) obj;
        String encoded = s.getData() == null ? null : s.getData().get(source.key());
        if (encoded != null) {
            try {
                return new String(Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return encoded; // the listener refuses it as garbage
            }
        }
        return value(s.getStringData());
    }

    private String value(Map<String, String> data) {
        return data == null ? null : data.get(source.key());
    }

    /** Reports only real changes of the text (resyncs and unrelated edits of the object are dropped). */
    private synchronized void changed(String pem) {
        if (reported && Objects.equals(pem, last)) {
            return;
        }
        reported = true;
        last = pem;
        listener.roots(cluster, pem);
    }

    public Source source() {
        return source;
    }

    @Override
    public synchronized void close() {
        if (informer != null) {
            informer.close();
            informer = null;
        }
    }
}
