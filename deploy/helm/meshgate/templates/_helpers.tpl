{{/* Labels on every object: the same as the Kustomize overlays, plus Helm's own two. */}}
{{- define "meshgate.labels" -}}
app.kubernetes.io/name: meshgate
app.kubernetes.io/part-of: meshgate
meshgate.io/cluster: {{ .Values.clusterName | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end }}

{{/* The gateway pods, as selected by the Deployment, the Services and the disruption budget (immutable). */}}
{{- define "meshgate.selector" -}}
app.kubernetes.io/name: meshgate
app.kubernetes.io/component: eastwest-gateway
{{- end }}

{{- define "meshgate.subjects" -}}
subjects:
  - kind: ServiceAccount
    name: meshgate
    namespace: {{ .Release.Namespace }}
{{- end }}
