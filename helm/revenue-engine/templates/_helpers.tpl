{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "revenue-engine.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: <release>-<chart>, or the release name when it already contains the chart name.
Kept to 52 characters: StatefulSet pods add "-<ordinal>" and their claims "state-<name>-<ordinal>",
and a StatefulSet's name must leave room for the controller-revision-hash label.
*/}}
{{- define "revenue-engine.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "revenue-engine.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "revenue-engine.labels" -}}
helm.sh/chart: {{ include "revenue-engine.chart" . }}
{{ include "revenue-engine.selectorLabels" . }}
app.kubernetes.io/version: {{ include "revenue-engine.imageTag" . | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: revenue-engine
{{- end }}

{{/*
Labels selecting the engine's pods.
*/}}
{{- define "revenue-engine.selectorLabels" -}}
app.kubernetes.io/name: {{ include "revenue-engine.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "revenue-engine.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "revenue-engine.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "revenue-engine.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{- define "revenue-engine.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (include "revenue-engine.imageTag" .) }}
{{- end }}
{{- end }}

{{/*
The workload kind: StatefulSet or Deployment (fails on anything else).
*/}}
{{- define "revenue-engine.workloadKind" -}}
{{- if eq .Values.workload "statefulset" }}StatefulSet
{{- else if eq .Values.workload "deployment" }}Deployment
{{- else }}{{ fail (printf "workload must be statefulset or deployment, not %q" .Values.workload) }}
{{- end }}
{{- end }}

{{/*
True (non-empty) when the state lives on a PersistentVolumeClaim.
*/}}
{{- define "revenue-engine.persistent" -}}
{{- if and (eq .Values.workload "statefulset") .Values.persistence.enabled }}true{{ end }}
{{- end }}

{{- define "revenue-engine.configMapName" -}}
{{- printf "%s-config" (include "revenue-engine.fullname" .) }}
{{- end }}

{{- define "revenue-engine.useCasesConfigMapName" -}}
{{- if .Values.useCases.existingConfigMap }}
{{- .Values.useCases.existingConfigMap }}
{{- else }}
{{- printf "%s-usecases" (include "revenue-engine.fullname" .) }}
{{- end }}
{{- end }}

{{- define "revenue-engine.headlessServiceName" -}}
{{- printf "%s-headless" (include "revenue-engine.fullname" .) }}
{{- end }}

{{/* Paths inside the container; the image expects these. */}}
{{- define "revenue-engine.configPath" -}}/etc/revenue-engine/config.yaml{{- end }}
{{- define "revenue-engine.useCasesPath" -}}/etc/revenue-engine/usecases{{- end }}
{{- define "revenue-engine.customerApiPath" -}}/etc/revenue-engine/customer-api{{- end }}

{{/*
Name of the Secret holding the customer API token: the existing one, or the chart's.
*/}}
{{- define "revenue-engine.customerApiSecretName" -}}
{{- if .Values.customerApi.existingSecret }}
{{- .Values.customerApi.existingSecret }}
{{- else }}
{{- printf "%s-customer-api" (include "revenue-engine.fullname" .) }}
{{- end }}
{{- end }}
{{- define "revenue-engine.statePath" -}}/var/lib/revenue-engine{{- end }}

{{/*
A librdkafka property as a string: whole numbers without an exponent (YAML numbers reach the
templates as floats), everything else with toString.
*/}}
{{- define "revenue-engine.propertyString" -}}
{{- if or (kindIs "float64" .) (kindIs "float32" .) }}
{{- if eq (float64 .) (float64 (int64 .)) }}{{ int64 . }}{{ else }}{{ . }}{{ end }}
{{- else if or (kindIs "map" .) (kindIs "slice" .) }}
{{- fail "config.kafka.properties: values must be scalars (librdkafka properties are strings)" }}
{{- else }}{{ toString . }}
{{- end }}
{{- end }}

{{/*
The engine's configuration file: `config` from the values, with the keys the chart owns
(use_cases.dir, state.dir, http.listen, http.customer_api) set, empty optional keys dropped (an
audit section without a topic too) and librdkafka properties as strings. Never holds a secret: the
customer API token is a file of a mounted Secret (`token_file`).
*/}}
{{- define "revenue-engine.engineConfig" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- if and (kindIs "map" $cfg.http) (hasKey $cfg.http "customer_api") }}
{{- fail "config.http.customer_api is set by the chart from customerApi (enabled, existingSecret/tokenKey or token): the token comes from a Secret mounted as token_file and must never be written into the config ConfigMap" }}
{{- end }}
{{- range $owned := list (list "use_cases" "dir") (list "state" "dir") (list "http" "listen") }}
{{- $section := index $owned 0 }}{{ $key := index $owned 1 }}
{{- if and (hasKey $cfg $section) (kindIs "map" (index $cfg $section)) (hasKey (index $cfg $section) $key) }}
{{- fail (printf "config.%s.%s is set by the chart (it mounts the use cases at %s, the state at %s and listens on containerPort): remove it from the values" $section $key (include "revenue-engine.useCasesPath" $) (include "revenue-engine.statePath" $)) }}
{{- end }}
{{- end }}
{{- $http := dict "listen" (printf "0.0.0.0:%d" (int .Values.containerPort)) }}
{{- if .Values.customerApi.enabled }}
{{- $_ := set $http "customer_api" (dict "enabled" true "token_file" (printf "%s/%s" (include "revenue-engine.customerApiPath" .) .Values.customerApi.tokenKey)) }}
{{- end }}
{{- $owned := dict
  "use_cases" (dict "dir" (include "revenue-engine.useCasesPath" .))
  "state" (dict "dir" (include "revenue-engine.statePath" .))
  "http" $http }}
{{- $cfg = mergeOverwrite $cfg $owned }}
{{- if and (hasKey $cfg "audit") (not (dig "topic" "" ($cfg.audit | default dict))) }}
{{- $_ := unset $cfg "audit" }}
{{- end }}
{{- with $cfg.input }}
{{- if and (hasKey . "schema_registry_url") (not .schema_registry_url) }}
{{- $_ := unset . "schema_registry_url" }}
{{- end }}
{{- end }}
{{- if and (hasKey $cfg "kafka") (hasKey $cfg.kafka "properties") }}
{{- $props := dict }}
{{- range $k, $v := ($cfg.kafka.properties | default dict) }}
{{- $_ := set $props $k (include "revenue-engine.propertyString" $v) }}
{{- end }}
{{- $_ := set $cfg.kafka "properties" $props }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/*
Checks of value combinations that would deploy something broken.
*/}}
{{- define "revenue-engine.validate" -}}
{{- $kind := include "revenue-engine.workloadKind" . }}
{{- $changelog := dig "state" "changelog" true (.Values.config | default dict) }}
{{- if and (eq .Values.workload "deployment") (not $changelog) }}
{{- fail "workload: deployment keeps the state on an emptyDir and restores it from the changelog topic: config.state.changelog must be true" }}
{{- end }}
{{- if and (eq .Values.workload "statefulset") (not .Values.persistence.enabled) (not $changelog) }}
{{- fail "persistence.enabled: false keeps the state on an emptyDir and restores it from the changelog topic: config.state.changelog must be true" }}
{{- end }}
{{- $creds := .Values.kafkaCredentials }}
{{- if and (not $creds.existingSecret) (or $creds.saslUsernameKey $creds.saslPasswordKey $creds.properties $creds.mountPath) }}
{{- fail "kafkaCredentials: saslUsernameKey, saslPasswordKey, properties and mountPath need kafkaCredentials.existingSecret" }}
{{- end }}
{{- $api := .Values.customerApi }}
{{- if and $api.enabled (not $api.existingSecret) (not $api.token) }}
{{- fail "customerApi.enabled needs the token from a Secret: set customerApi.existingSecret (and tokenKey), or customerApi.token for a Secret the chart creates" }}
{{- end }}
{{- if and $api.existingSecret $api.token }}
{{- fail "customerApi: set either existingSecret (the token comes from it) or token (the chart creates a Secret), not both" }}
{{- end }}
{{- if and $api.enabled (not (regexMatch "^[-._a-zA-Z0-9]+$" $api.tokenKey)) }}
{{- fail (printf "customerApi.tokenKey: %q is not a valid Secret key (letters, digits, '-', '_', '.')" $api.tokenKey) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (lt (int .Values.autoscaling.maxReplicas) (int .Values.autoscaling.minReplicas)) }}
{{- fail "autoscaling.maxReplicas must be at least autoscaling.minReplicas" }}
{{- end }}
{{- if and (not .Values.useCases.existingConfigMap) (not .Values.useCases.files) (not (.Files.Glob "files/usecases/*.yaml")) }}
{{- fail "no use cases: set useCases.files or useCases.existingConfigMap (the chart's bundled files/usecases/ is empty)" }}
{{- end }}
{{- end }}

{{/*
Name of the ConfigMap with the use cases' model files; empty when there is none.
*/}}
{{- define "revenue-engine.modelsConfigMapName" -}}
{{- if .Values.useCases.existingModelsConfigMap }}
{{- .Values.useCases.existingModelsConfigMap }}
{{- else if .Files.Glob "files/usecases/models/*" }}
{{- printf "%s-usecase-models" (include "revenue-engine.fullname" .) }}
{{- end }}
{{- end }}
