{{/* Names, labels and shared pod fragments of the randomuser-connector chart. */}}

{{- define "rc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "rc.fullname" -}}
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

{{/* Name of one component's objects: <fullname>-<component>. */}}
{{- define "rc.componentName" -}}
{{- printf "%s-%s" (include "rc.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "rc.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "rc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: randomuser-connector
{{- end }}

{{/* Labels every pod of this release carries, whatever its component; call with the root context. */}}
{{- define "rc.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "rc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one component; call with (dict "root" $ "component" "query"). */}}
{{- define "rc.selectorLabels" -}}
{{ include "rc.releaseSelectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "rc.componentLabels" -}}
{{ include "rc.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "rc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "rc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "rc.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "rc.gatewayImage" -}}
{{- printf "%s:%s" .Values.gateway.image.repository (default .Chart.AppVersion .Values.gateway.image.tag) }}
{{- end }}

{{/* The Secret holding AMQP_URL, MONGO_URL, COMMAND_TOKEN (ours or an existing one). */}}
{{- define "rc.secretName" -}}
{{- default (printf "%s-secrets" (include "rc.fullname" .)) .Values.existingSecret }}
{{- end }}

{{/* One environment variable read from the settings Secret. */}}
{{- define "rc.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "rc.secretName" .root }}
      key: {{ .key | default .name }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{/* Pod-level fields every workload shares. */}}
{{- define "rc.podCommon" -}}
serviceAccountName: {{ include "rc.serviceAccountName" .root }}
automountServiceAccountToken: false
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod annotations: roll pods when their configuration changes and, with
     metrics.enabled, let Prometheus scrape GET /metrics on .metricsPort (the
     prometheus.io/* convention of Prometheus' kubernetes_sd example). The
     component's podAnnotations come last, so a user's value wins a clash. */}}
{{- define "rc.podAnnotations" -}}
{{- $annotations := dict
  "checksum/config" (include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum)
  "checksum/secret" (include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum) }}
{{- if .root.Values.metrics.enabled }}
{{- $_ := set $annotations "prometheus.io/scrape" "true" }}
{{- $_ = set $annotations "prometheus.io/port" (required "rc.podAnnotations needs metricsPort" .metricsPort | toString) }}
{{- $_ = set $annotations "prometheus.io/path" "/metrics" }}
{{- end }}
{{- toYaml (mergeOverwrite $annotations (.values.podAnnotations | default dict)) }}
{{- end }}

{{/* /healthz liveness, /readyz readiness and a startup probe on one named port. */}}
{{- define "rc.probes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  periodSeconds: 2
  failureThreshold: 45
livenessProbe:
  httpGet:
    path: /healthz
    port: {{ .port }}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: {{ .port }}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end }}

{{/* Pod labels: the component's, then podLabels of the release and of the component. */}}
{{- define "rc.podLabels" -}}
{{ include "rc.componentLabels" . }}
{{- with .root.Values.podLabels }}
{{ toYaml . }}
{{- end }}
{{- with (.values | default dict).podLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* extraEnv of the release, then of the component (a list of EnvVar). */}}
{{- define "rc.extraEnv" -}}
{{- with .root.Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- with (.values | default dict).extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Before SIGTERM, wait until the pod is out of the Services' endpoints and
     the gateway's DNS answers, so no new request reaches a stopping process. */}}
{{- define "rc.preStop" -}}
lifecycle:
  preStop:
    exec:
      command: ["sleep", "{{ .Values.preStopSleepSeconds }}"]
{{- end }}

{{/* Environment shared by every Python process (settings in common.settings). */}}
{{- define "rc.commonEnvFrom" -}}
- configMapRef:
    name: {{ include "rc.fullname" . }}-common
{{- end }}
