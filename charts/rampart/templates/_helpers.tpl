{{/* Names: <release>-rampart-<component>, cut to 63 characters. */}}
{{- define "rampart.fullname" -}}
{{- if contains "rampart" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-rampart" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "rampart.webhook.name" -}}{{ include "rampart.fullname" . }}-webhook{{- end -}}
{{- define "rampart.engine.name" -}}{{ include "rampart.fullname" . }}-engine{{- end -}}
{{- define "rampart.learner.name" -}}{{ include "rampart.fullname" . }}-learner{{- end -}}

{{- define "rampart.labels" -}}
app.kubernetes.io/name: rampart
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "webhook") */}}
{{- define "rampart.selector" -}}
app.kubernetes.io/name: rampart
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "rampart.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* `- --flag=value` when the value is set ("" / null / false leave the binary's default),
else nothing. Whole numbers are written without a fraction or exponent (YAML reads them as
floats); fractions (a threshold) as they are. */}}
{{- define "rampart.flag" -}}
{{- if or (kindIs "bool" .value) (kindIs "invalid" .value) -}}
{{- if .value -}}- --{{ .name }}{{- end -}}
{{- else if and (kindIs "float64" .value) (ne (float64 (int64 .value)) .value) -}}
- --{{ .name }}={{ .value }}
{{- else if or (kindIs "float64" .value) (kindIs "int" .value) (kindIs "int64" .value) -}}
- --{{ .name }}={{ int64 .value }}
{{- else if ne (toString .value) "" -}}
- --{{ .name }}={{ .value }}
{{- end -}}
{{- end -}}

{{/* The set flags of a list of (name value) pairs, one per line. */}}
{{- define "rampart.flags" -}}
{{- $out := list -}}
{{- range . -}}
{{- $line := include "rampart.flag" (dict "name" (index . 0) "value" (index . 1)) -}}
{{- if $line }}{{ $out = append $out $line }}{{ end -}}
{{- end -}}
{{- join "\n" $out -}}
{{- end -}}

{{/* The serving limits of a component's `serve` values, as (name value) pairs. */}}
{{- define "rampart.serveFlags" -}}
{{- include "rampart.flags" (list
  (list "max-connections" .maxConnections)
  (list "max-connections-per-peer" .maxConnectionsPerPeer)
  (list "header-timeout" .headerTimeout)
  (list "request-timeout" .requestTimeout)
  (list "idle-timeout" .idleTimeout)) -}}
{{- end -}}

{{/* Whether the engine writes (a writing actuator), and whether pods may be acted on. */}}
{{- define "rampart.engine.writes" -}}
{{- if has .Values.engine.actuator (list "networkpolicy" "adminnetworkpolicy") }}true{{ end -}}
{{- end -}}
{{- define "rampart.engine.pods" -}}
{{- if and (include "rampart.engine.writes" .) (has "pod" .Values.engine.enable) }}true{{ end -}}
{{- end -}}

{{/* Namespaces the webhooks skip: kube-system (by default) and the release namespace. */}}
{{- define "rampart.webhook.namespaceSelector" -}}
namespaceSelector:
  matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values:
    {{- range (uniq (append .Values.webhook.exemptNamespaces .Release.Namespace)) }}
    - {{ . | quote }}
    {{- end }}
{{- end -}}

{{/* A webhook's clientConfig: the Service, or `webhook.url` for one outside the cluster. */}}
{{- define "rampart.webhook.clientConfig" -}}
clientConfig:
  {{- if .root.Values.webhook.url }}
  url: {{ printf "%s%s" (trimSuffix "/" .root.Values.webhook.url) .path | quote }}
  {{- else }}
  service:
    name: {{ include "rampart.webhook.name" .root }}
    namespace: {{ .root.Release.Namespace }}
    path: {{ .path }}
    port: 443
  {{- end }}
  {{- if eq .root.Values.webhook.tls.mode "secret" }}
  caBundle: {{ required "webhook.tls.caBundle is required with webhook.tls.mode=secret" .root.Values.webhook.tls.caBundle }}
  {{- else if eq .root.Values.webhook.tls.mode "self-signed" }}
  caBundle: {{ .caBundle }}
  {{- end }}
{{- end -}}
