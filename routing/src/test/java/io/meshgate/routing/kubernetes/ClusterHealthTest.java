package io.meshgate.routing.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.ConnectException;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** How list/watch failures are named, logged (once per change of state) and counted. */
class ClusterHealthTest {

    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger logger = (Logger) LoggerFactory.getLogger(ClusterHealth.class);
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);

    @BeforeEach
    void capture() {
        logs.start();
        logger.addAppender(logs);
    }

    @AfterEach
    void release() {
        logger.detachAppender(logs);
    }

    private static KubernetesClientException forbidden(String verb, String resource, String group) {
        String message = resource + " is forbidden: User \"system:serviceaccount:meshgate-system:meshgate\" cannot "
                + verb + " resource \"" + resource + "\" in API group \"" + group + "\" at the cluster scope";
        return new KubernetesClientException(new StatusBuilder().withCode(403).withMessage(message).build());
    }

    private List<String> warnings() {
        return logs.list.stream().filter(e -> e.getLevel().toString().equals("WARN")).map(ILoggingEvent::getFormattedMessage).toList();
    }

    @Test
    void aDeniedVerbIsNamedWithResourceAndGroupAndLoggedOnce() {
        ClusterHealth health = new ClusterHealth("east", "https://10.0.0.1:6443", registry);
        for (int i = 0; i < 5; i++) {
            health.failed("endpointslices.discovery.k8s.io", "list", new CompletionException(forbidden("watch", "endpointslices", "discovery.k8s.io")));
        }
        assertThat(warnings()).singleElement().asString().contains("cluster east", "https://10.0.0.1:6443",
                "verb \"watch\"", "resource \"endpointslices.discovery.k8s.io\"");
        String text = registry.scrape();
        assertThat(text).contains("meshgate_cluster_permission_missing{cluster=\"east\",resource=\"endpointslices.discovery.k8s.io\",verb=\"watch\"} 1.0")
                .contains("meshgate_cluster_sync_errors_total{cluster=\"east\",reason=\"forbidden\"} 5.0")
                .contains("meshgate_cluster_up{cluster=\"east\"} 0.0");

        health.watching();
        assertThat(registry.scrape()).doesNotContain("meshgate_cluster_permission_missing{")
                .contains("meshgate_cluster_up{cluster=\"east\"} 1.0");
        health.close();
        assertThat(registry.scrape()).doesNotContain("meshgate_cluster_");
    }

    @Test
    void anUnreachableApiServerIsOneWarningPerOutageAndOneLineWhenBack() {
        ClusterHealth health = new ClusterHealth("east", "https://10.0.0.1:6443", registry);
        health.watching();
        for (int i = 0; i < 50; i++) {
            health.failed("services", "watch", new CompletionException(new KubernetesClientException("An error has occurred.",
                    new ConnectException("Connection refused"))));
            health.watchBroken("services");
        }
        assertThat(warnings()).singleElement().asString().contains("cluster east", "https://10.0.0.1:6443", "unreachable",
                "Connection refused");
        health.watching();
        assertThat(logs.list.get(logs.list.size() - 1).getFormattedMessage()).contains("reachable again");
        health.failed("services", "watch", new ConnectException("Connection refused"));
        assertThat(warnings()).hasSize(2);
        assertThat(registry.scrape()).contains("meshgate_cluster_sync_errors_total{cluster=\"east\",reason=\"unreachable\"} 51.0");
        health.close();
    }

    @Test
    void rejectedCredentialsAreTheirOwnReason() {
        ClusterHealth.Failure f = ClusterHealth.classify("services", "list",
                new KubernetesClientException(new StatusBuilder().withCode(401).withMessage("Unauthorized").build()));
        assertThat(f.reason()).isEqualTo(ClusterHealth.Reason.UNAUTHORIZED);
        assertThat(ClusterHealth.classify("services", "list", new IllegalStateException("odd")).reason())
                .isEqualTo(ClusterHealth.Reason.ERROR);
    }
}
