{{/*
Names
*/}}
{{- define "soma.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "soma.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of a part of the release: (dict "root" $ "part" "api") */}}
{{- define "soma.partname" -}}
{{- printf "%s-%s" (include "soma.fullname" .root) .part | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "soma.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "soma.configMapName" -}}
{{- include "soma.fullname" . }}
{{- end }}

{{- define "soma.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else }}
{{- include "soma.fullname" . }}
{{- end }}
{{- end }}

{{- define "soma.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "soma.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "soma.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
Labels. soma.labels takes (dict "root" $ "component" "api").
*/}}
{{- define "soma.selectorLabels" -}}
app.kubernetes.io/name: {{ include "soma.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "soma.labels" -}}
helm.sh/chart: {{ include "soma.chart" .root }}
{{ include "soma.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: soma
{{- end }}

{{/*
In-chart dependencies: "true" when any is enabled, "" otherwise.
*/}}
{{- define "soma.inChartDependencies" -}}
{{- if or .Values.redpanda.enabled .Values.apicurio.enabled .Values.postgresql.enabled .Values.qdrant.enabled .Values.redis.enabled }}true{{ end }}
{{- end }}

{{/* Hook events of the setup jobs (see values.yaml, hooks). */}}
{{- define "soma.hookEvents" -}}
{{- if .Values.hooks.events }}
{{- .Values.hooks.events }}
{{- else if include "soma.inChartDependencies" . }}
{{- "post-install,pre-upgrade" }}
{{- else }}
{{- "pre-install,pre-upgrade" }}
{{- end }}
{{- end }}

{{/*
Addresses of the in-chart dependencies.
*/}}
{{- define "soma.redpanda.bootstrap" -}}
{{- printf "%s:9092" (include "soma.partname" (dict "root" . "part" "redpanda")) }}
{{- end }}

{{- define "soma.postgres.url" -}}
{{- $a := .Values.postgresql.auth }}
{{- printf "postgres://%s:%s@%s:5432/%s?sslmode=disable" (urlquery $a.username) (urlquery $a.password) (include "soma.partname" (dict "root" . "part" "postgres")) $a.database }}
{{- end }}

{{/*
The ConfigMap's data: config values (empty ones left out) with the addresses
of the enabled in-chart dependencies filled in. Numbers are written without
exponent.
*/}}
{{- define "soma.configData" -}}
{{- $cfg := deepCopy .Values.config }}
{{- if and .Values.redpanda.enabled (not $cfg.KAFKA_BOOTSTRAP_SERVERS) }}
{{- $_ := set $cfg "KAFKA_BOOTSTRAP_SERVERS" (include "soma.redpanda.bootstrap" .) }}
{{- end }}
{{- if and .Values.apicurio.enabled (not $cfg.SCHEMA_REGISTRY_URL) }}
{{- $_ := set $cfg "SCHEMA_REGISTRY_URL" (printf "http://%s:8080/apis/ccompat/v7" (include "soma.partname" (dict "root" . "part" "apicurio"))) }}
{{- end }}
{{- if and .Values.qdrant.enabled (not $cfg.QDRANT_URL) }}
{{- $_ := set $cfg "QDRANT_URL" (printf "http://%s:6334" (include "soma.partname" (dict "root" . "part" "qdrant"))) }}
{{- end }}
{{- range $k, $v := $cfg }}
{{- if not (kindIs "invalid" $v) }}
{{- $s := toString $v }}
{{- if kindIs "float64" $v }}
{{- if eq $v (float64 (int64 $v)) }}{{ $s = toString (int64 $v) }}{{ end }}
{{- end }}
{{- if ne $s "" }}
{{ $k }}: {{ $s | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* The Secret's stringData: secret values (empty ones left out). */}}
{{- define "soma.secretData" -}}
{{- $sec := deepCopy .Values.secrets.values }}
{{- if and .Values.postgresql.enabled (not $sec.POSTGRES_URL) }}
{{- $_ := set $sec "POSTGRES_URL" (include "soma.postgres.url" .) }}
{{- end }}
{{- if and .Values.redis.enabled (not $sec.REDIS_URL) }}
{{- $_ := set $sec "REDIS_URL" (printf "redis://%s:6379/0" (include "soma.partname" (dict "root" . "part" "redis"))) }}
{{- end }}
{{- range $k, $v := $sec }}
{{- if and (not (kindIs "invalid" $v)) (ne (toString $v) "") }}
{{ $k }}: {{ toString $v | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Refuse a configuration the processes would refuse: in the evented modes every
external service needs an address.
*/}}
{{- define "soma.validate" -}}
{{- $cfg := include "soma.configData" . | fromYaml }}
{{- range $k, $_ := $cfg }}
{{- if has $k (list "SOMA_API_TOKEN" "SOMA_API_TOKENS" "POSTGRES_URL" "REDIS_URL" "REDIS_PASSWORD" "QDRANT_API_KEY" "KAFKA_SASL_PASSWORD" "SCHEMA_REGISTRY_PASSWORD" "SOMA_EMBEDDINGS_API_KEY") }}
{{- fail (printf "config.%s may hold a credential: set it under secrets.values (or in secrets.existingSecret)" $k) }}
{{- end }}
{{- end }}
{{- $mode := lower (default "development" $cfg.MEMORY_MODE) }}
{{- if has $mode (list "evented_enterprise" "cloud_managed") }}
{{- range $k := list "KAFKA_BOOTSTRAP_SERVERS" "SCHEMA_REGISTRY_URL" }}
{{- if not (index $cfg $k) }}
{{- fail (printf "config.%s is required with MEMORY_MODE=%s (or enable the in-chart dependency)" $k $mode) }}
{{- end }}
{{- end }}
{{- if not (or $cfg.QDRANT_URL $cfg.QDRANT_HOST) }}
{{- fail (printf "config.QDRANT_URL or config.QDRANT_HOST is required with MEMORY_MODE=%s (or enable the in-chart qdrant)" $mode) }}
{{- end }}
{{- if not $.Values.secrets.existingSecret }}
{{- $sec := include "soma.secretData" $ | fromYaml }}
{{- if not $sec.POSTGRES_URL }}
{{- fail (printf "secrets.values.POSTGRES_URL (or secrets.existingSecret, or the in-chart postgresql) is required with MEMORY_MODE=%s" $mode) }}
{{- end }}
{{- if not (or $sec.REDIS_URL $cfg.REDIS_HOST) }}
{{- fail (printf "secrets.values.REDIS_URL or config.REDIS_HOST (or secrets.existingSecret, or the in-chart redis) is required with MEMORY_MODE=%s" $mode) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and .Values.apicurio.enabled (not .Values.postgresql.enabled) (not .Values.apicurio.datasource.url) }}
{{- fail "apicurio.datasource.url is required when apicurio is enabled without the in-chart postgresql: the registry's schema ids must outlive its pod" }}
{{- end }}
{{- end }}

{{/* Checksums that roll the pods when their settings change. */}}
{{- define "soma.configChecksums" -}}
checksum/config: {{ include "soma.configData" . | sha256sum }}
{{- if not .Values.secrets.existingSecret }}
checksum/secret: {{ include "soma.secretData" . | sha256sum }}
{{- end }}
{{- end }}

{{/* envFrom of every soma container: (dict "root" $ "hook" false) */}}
{{- define "soma.envFrom" -}}
- configMapRef:
    name: {{ include "soma.configMapName" .root }}{{ if .hook }}-hook{{ end }}
- secretRef:
    name: {{ include "soma.secretName" .root }}{{ if and .hook (not .root.Values.secrets.existingSecret) }}-hook{{ end }}
{{- end }}

{{/* Volume claim template or emptyDir of an in-chart dependency: (dict "root" $ "persistence" .Values.x.persistence) */}}
{{- define "soma.storageClass" -}}
{{- if .storageClass }}
{{- if eq "-" .storageClass }}
storageClassName: ""
{{- else }}
storageClassName: {{ .storageClass | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "soma.volumeClaimTemplate" -}}
- metadata:
    name: data
  spec:
    accessModes: ["ReadWriteOnce"]
    {{- include "soma.storageClass" .persistence | nindent 4 }}
    resources:
      requests:
        storage: {{ .persistence.size | quote }}
{{- end }}

{{/* Security of the in-chart dependencies' containers. */}}
{{- define "soma.dependencyContainerSecurity" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end }}

{{/*
The soma processes: name, arguments, container port, the variable that sets
its listen address, and whether it scales with an HPA.
*/}}
{{- define "soma.components" -}}
- name: api
  args: ["api"]
  port: 9595
  env: {SOMA_API_ADDR: ":9595"}
  autoscale: true
- name: query
  args: ["query"]
  port: 9596
  env: {SOMA_QUERY_ADDR: ":9596"}
  autoscale: true
- name: projector
  args: ["projector"]
  port: 8001
  env: {CONSUMER_METRICS_PORT: "8001"}
  autoscale: false
{{- end }}
