package io.meshgate.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The shipped Grafana dashboard parses and queries only the series meshgate exports. */
class GrafanaDashboardTest {

    /** meshgate's metric names (README "Metrics"); Prometheus names as Micrometer publishes them. */
    static final Set<String> EXPORTED = Set.of(
            "meshgate_downstream_connections_total",
            "meshgate_downstream_connections_active",
            "meshgate_relay_bytes_total",
            "meshgate_relay_spliced_bytes_total",
            "meshgate_upstream_connect_seconds_bucket",
            "meshgate_upstream_connect_seconds_count",
            "meshgate_upstream_connect_seconds_sum",
            "meshgate_upstream_connect_seconds_max",
            "meshgate_upstream_connect_failures_total",
            "meshgate_tls_handshakes_total",
            "meshgate_tls_reload_total",
            "meshgate_tls_trust_roots",
            "meshgate_tls_certificate_expiry_seconds",
            "meshgate_discovery_synced",
            "meshgate_discovery_services",
            "meshgate_discovery_endpoints",
            "meshgate_discovery_watch_reconnects_total",
            "meshgate_discovery_last_event_age_seconds");

    /** Series the latency panel does not need: its quantiles come from the buckets. */
    static final Set<String> NOT_SHOWN = Set.of(
            "meshgate_upstream_connect_seconds_count",
            "meshgate_upstream_connect_seconds_sum",
            "meshgate_upstream_connect_seconds_max");

    private static final Pattern METRIC = Pattern.compile("\\bmeshgate_[a-zA-Z0-9_]+");

    private static JsonNode dashboard;

    @BeforeAll
    static void parse() throws IOException {
        dashboard = new ObjectMapper().readTree(
                RenderedManifests.deployDir().resolve(Path.of("grafana", "meshgate-dashboard.json")).toFile());
    }

    @Test
    void everyPanelQueryReferencesOnlyExportedMeshgateMetrics() {
        List<String> expressions = panelExpressions();
        assertThat(expressions).isNotEmpty();
        for (String expr : expressions) {
            Set<String> used = metricNames(expr);
            assertThat(used).as("query references a meshgate metric: %s", expr).isNotEmpty();
            assertThat(EXPORTED).as("query %s", expr).containsAll(used);
        }
    }

    @Test
    void templateVariablesQueryExportedMetrics() {
        for (JsonNode variable : dashboard.path("templating").path("list")) {
            if (!variable.path("type").asText().equals("query")) {
                continue;
            }
            JsonNode query = variable.path("query");
            String text = query.isObject() ? query.path("query").asText() : query.asText();
            Set<String> used = metricNames(text);
            assertThat(used).as("variable %s", variable.path("name").asText()).isNotEmpty();
            assertThat(EXPORTED).as("variable %s", variable.path("name").asText()).containsAll(used);
        }
    }

    @Test
    void dashboardShowsEveryExportedSeries() {
        Set<String> shown = new TreeSet<>();
        panelExpressions().forEach(e -> shown.addAll(metricNames(e)));
        Set<String> expected = new TreeSet<>(EXPORTED);
        expected.removeAll(NOT_SHOWN);

        assertThat(shown).containsExactlyElementsOf(expected);
    }

    @Test
    void panelsHaveUniqueIdsTitlesAndThePrometheusDataSource() {
        Set<Integer> ids = new HashSet<>();
        for (JsonNode panel : panels()) {
            assertThat(ids.add(panel.path("id").asInt(-1))).as("duplicate or missing id: %s", panel.path("title")).isTrue();
            assertThat(panel.path("title").asText()).isNotBlank();
            assertThat(panel.has("gridPos")).as("panel %s has a position", panel.path("title")).isTrue();
            if (panel.has("targets")) {
                assertThat(panel.path("datasource").path("uid").asText()).isEqualTo("${datasource}");
            }
        }
        assertThat(dashboard.path("uid").asText()).isEqualTo("meshgate-overview");
    }

    private static List<JsonNode> panels() {
        List<JsonNode> all = new ArrayList<>();
        for (JsonNode panel : dashboard.path("panels")) {
            all.add(panel);
            panel.path("panels").forEach(all::add);
        }
        return all;
    }

    private static List<String> panelExpressions() {
        List<String> expressions = new ArrayList<>();
        for (JsonNode panel : panels()) {
            for (JsonNode target : panel.path("targets")) {
                assertThat(target.path("expr").asText())
                        .as("panel '%s' target %s has a PromQL expression", panel.path("title").asText(), target.path("refId"))
                        .isNotBlank();
                expressions.add(target.path("expr").asText());
            }
        }
        return expressions;
    }

    private static Set<String> metricNames(String expr) {
        Set<String> names = new TreeSet<>();
        Matcher m = METRIC.matcher(expr);
        while (m.find()) {
            names.add(m.group());
        }
        return names;
    }
}
