{{/* meshgate.yaml (keys: the README's "Configuration"); the pod template carries its checksum so a change rolls the pods. */}}
{{- define "meshgate.config" -}}
clusterDomain: {{ .Values.clusterDomain }}
listeners:
  - name: eastwest
    address: 0.0.0.0:15443
    mode: passthrough
  - name: eastwest-mtls
    address: 0.0.0.0:15444
    mode: terminate
  - name: egress
    address: 0.0.0.0:15445
    mode: egress
admin:
  address: 0.0.0.0:15000
tls:
  certificateChain: /etc/meshgate/identity/cert-chain.pem
  privateKey: /etc/meshgate/identity/key.pem
  trustBundle: /etc/meshgate/trust/bundle.pem
  upstream: mtls
  allowedTrustDomains: {{ toJson .Values.allowedTrustDomains }}
{{- with .Values.allowedIdentities }}
  allowedIdentities: {{ toJson . }}
{{- end }}
{{- if .Values.trustFederation.enabled }}
{{- $tf := .Values.trustFederation }}
trust:
  federation:
    rootsFrom:
      kind: ConfigMap
      namespace: {{ $tf.rootsFrom.namespace }}
      name: {{ $tf.rootsFrom.name }}
      key: {{ $tf.rootsFrom.key }}
    publish:
      namespace: {{ .Release.Namespace }}
      name: {{ $tf.publish.name }}
      key: {{ $tf.publish.key }}
      {{- if $tf.publish.clusterTrustBundle }}
      clusterTrustBundle: true
      {{- end }}
    removalGrace: {{ $tf.removalGrace }}
{{- end }}
discovery:
  export: {{ .Values.exports }}
  egressPolicy: {{ .Values.egressPolicy }}
  clusters:
    - name: {{ .Values.clusterName }}
    {{- range .Values.remoteClusters }}
    - name: {{ required "remoteClusters[].name" .name }}
      remote: true
      kubeconfig: /etc/meshgate/remote/{{ .name }}/kubeconfig
      {{- with .gateway }}
      gateway: {{ . | quote }}
      {{- end }}
    {{- end }}
  {{- if .Values.remoteSecrets.enabled }}
  remoteSecrets:
    namespace: {{ .Release.Namespace }}
  {{- end }}
timeouts:
  {{- toYaml .Values.timeouts | nindent 2 }}
{{- end }}
