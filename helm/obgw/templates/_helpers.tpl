{{/* vim: set filetype=mustache: */}}

{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "obgw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: the release name, prefixed to the chart name unless it already
contains it; truncated to 63 characters.
*/}}
{{- define "obgw.fullname" -}}
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

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "obgw.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels. */}}
{{- define "obgw.labels" -}}
helm.sh/chart: {{ include "obgw.chart" . }}
{{ include "obgw.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: obgw
{{- end }}

{{/* Selector labels shared by every pod of the release (server and migration). */}}
{{- define "obgw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "obgw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of the gateway (server) pods only: the Service must not select the
migration Job's pod. */}}
{{- define "obgw.serverSelectorLabels" -}}
{{ include "obgw.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end }}

{{/* Name of the service account the gateway pods run as. */}}
{{- define "obgw.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "obgw.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Container image reference (digest wins over tag; tag defaults to appVersion). */}}
{{- define "obgw.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* True ("true") when this is a production release. */}}
{{- define "obgw.isProduction" -}}
{{- if eq .Values.config.environment "production" }}true{{ end }}
{{- end }}

{{/* The effective FAPI profile: strict in production, baseline in the sandbox. */}}
{{- define "obgw.fapiProfile" -}}
{{- if .Values.config.fapiProfile }}
{{- .Values.config.fapiProfile }}
{{- else if include "obgw.isProduction" . }}strict
{{- else }}baseline
{{- end }}
{{- end }}

{{/* The effective core adapter: fineract in production, sandbox in the sandbox. */}}
{{- define "obgw.core" -}}
{{- if .Values.config.core }}
{{- .Values.config.core }}
{{- else if include "obgw.isProduction" . }}fineract
{{- else }}sandbox
{{- end }}
{{- end }}

{{/* The effective issuer; required (and https, by the schema) in production. */}}
{{- define "obgw.issuer" -}}
{{- if include "obgw.isProduction" . }}
{{- required "config.issuer is required in production (the gateway's public https URL)" .Values.config.issuer }}
{{- else }}
{{- default "http://127.0.0.1:8000" .Values.config.issuer }}
{{- end }}
{{- end }}

{{/* True ("true") when more than one gateway pod may run. */}}
{{- define "obgw.multiReplica" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/*
Checks that need several values at once; fails the render with a clear message.
Production and multi-replica releases need shared state: PostgreSQL, Redis and one gateway
secret (the signing keys in the database are sealed under it).
*/}}
{{- define "obgw.validate" -}}
{{- $why := "" }}
{{- if include "obgw.isProduction" . }}
{{- $why = "in production" }}
{{- else if include "obgw.multiReplica" . }}
{{- $why = "with more than one replica (replicaCount > 1 or autoscaling.enabled)" }}
{{- end }}
{{- if $why }}
{{- $_ := required (printf "database.existingSecret (a Secret holding OBGW_DATABASE_URL) is required %s" $why) .Values.database.existingSecret }}
{{- $_ = required (printf "redis.existingSecret (a Secret holding OBGW_REDIS_URL) is required %s" $why) .Values.redis.existingSecret }}
{{- $_ = required (printf "gatewaySecret.existingSecret (a Secret holding OBGW_SECRET_KEY) is required %s" $why) .Values.gatewaySecret.existingSecret }}
{{- end }}
{{- if eq (include "obgw.core" .) "fineract" }}
{{- $_ := required "config.fineract.url is required when the core adapter is fineract" .Values.config.fineract.url }}
{{- $_ = required "config.fineract.existingSecret (Fineract user name and password) is required when the core adapter is fineract" .Values.config.fineract.existingSecret }}
{{- end }}
{{- if .Values.policyCatalog }}
{{- $catalog := fromYaml .Values.policyCatalog }}
{{- if hasKey $catalog "Error" }}
{{- fail (printf "policyCatalog is not valid YAML: %s" (get $catalog "Error")) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Environment shared by the gateway and the migration Job. OBGW_POLICY_FILE is added by the
Deployment only: the ConfigMap does not exist yet when a pre-install hook runs.
*/}}
{{- define "obgw.env" -}}
- name: OBGW_ENVIRONMENT
  value: {{ .Values.config.environment | quote }}
- name: OBGW_ISSUER
  value: {{ include "obgw.issuer" . | quote }}
- name: OBGW_FAPI_PROFILE
  value: {{ include "obgw.fapiProfile" . | quote }}
- name: OBGW_DATA_DIR
  value: /var/lib/obgw
- name: OBGW_CORE
  value: {{ include "obgw.core" . | quote }}
{{- if eq (include "obgw.core" .) "fineract" }}
- name: OBGW_FINERACT_URL
  value: {{ .Values.config.fineract.url | quote }}
- name: OBGW_FINERACT_TENANT
  value: {{ .Values.config.fineract.tenant | quote }}
{{- with .Values.config.fineract.existingSecret }}
- name: OBGW_FINERACT_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.config.fineract.usernameKey | quote }}
- name: OBGW_FINERACT_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.config.fineract.passwordKey | quote }}
{{- end }}
{{- end }}
{{- if include "obgw.isProduction" . }}
- name: OBGW_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required in production" .Values.database.existingSecret | quote }}
      key: {{ .Values.database.urlKey | quote }}
- name: OBGW_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ required "redis.existingSecret is required in production" .Values.redis.existingSecret | quote }}
      key: {{ .Values.redis.urlKey | quote }}
{{- else }}
{{- with .Values.database.existingSecret }}
- name: OBGW_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.database.urlKey | quote }}
{{- end }}
{{- with .Values.redis.existingSecret }}
- name: OBGW_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.redis.urlKey | quote }}
{{- end }}
{{- end }}
{{- with .Values.gatewaySecret.existingSecret }}
- name: OBGW_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.gatewaySecret.key | quote }}
{{- end }}
- name: OBGW_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
{{- with .Values.config.otlpEndpoint }}
- name: OBGW_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: OBGW_TRACE_SAMPLE_RATIO
  value: {{ .Values.config.traceSampleRatio | toString | quote }}
- name: OBGW_CORE_TIMEOUT
  value: {{ .Values.config.coreTimeout | toString | quote }}
{{- with .Values.config.trustedProxies }}
- name: OBGW_TRUSTED_PROXIES
  value: {{ join "," . | quote }}
- name: OBGW_FORWARDED_HEADER
  value: {{ $.Values.config.forwardedHeader | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod-level settings shared by the gateway and the migration Job. */}}
{{- define "obgw.podCommon" -}}
automountServiceAccountToken: false
# The Service's link variables (OBGW_PORT=tcp://..., OBGW_SERVICE_HOST, ...) would collide
# with the gateway's OBGW_* settings.
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . | quote }}
{{- end }}
{{- end }}
