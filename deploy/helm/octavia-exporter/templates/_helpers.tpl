{{/* The chart's name: the app.kubernetes.io/name label, and so the scrape job's name. */}}
{{- define "octavia-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The object names: the release's name when it already holds the chart's, as is usual. */}}
{{- define "octavia-exporter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "octavia-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "octavia-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "octavia-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Every object's labels; the caller adds app.kubernetes.io/component. */}}
{{- define "octavia-exporter.labels" -}}
helm.sh/chart: {{ include "octavia-exporter.chart" . }}
{{ include "octavia-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: octavia-exporter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "octavia-exporter.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "octavia-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "octavia-exporter.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "octavia-exporter.cloudsSecretName" -}}
{{- default (printf "%s-clouds" (include "octavia-exporter.fullname" .)) .Values.openstack.existingSecret -}}
{{- end -}}

{{/* The clouds.yaml the chart puts in its Secret, as text. */}}
{{- define "octavia-exporter.cloudsYaml" -}}
{{- if .Values.openstack.cloudsYaml -}}
{{- toYaml .Values.openstack.cloudsYaml -}}
{{- else -}}
{{- .Files.Get "files/clouds-placeholder.yaml" -}}
{{- end -}}
{{- end -}}

{{/* The web config Secret's name, or "" when there is no web config. */}}
{{- define "octavia-exporter.webConfigSecretName" -}}
{{- if .Values.webConfig.existingSecret -}}
{{- .Values.webConfig.existingSecret -}}
{{- else if .Values.webConfig.config -}}
{{- printf "%s-web-config" (include "octavia-exporter.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* "true" when the exporter serves HTTPS, as far as the chart can know it. */}}
{{- define "octavia-exporter.https" -}}
{{- if or .Values.webConfig.tlsSecret .Values.webConfig.config.tls_server_config -}}
true
{{- end -}}
{{- end -}}

{{/* "true" when the probes must be TCP checks: the kubelet has no client certificate. */}}
{{- define "octavia-exporter.tcpProbes" -}}
{{- $tls := .Values.webConfig.config.tls_server_config | default dict -}}
{{- if or .Values.probes.tcpSocket (eq (toString $tls.client_auth_type) "RequireAndVerifyClientCert") -}}
true
{{- end -}}
{{- end -}}

{{- define "octavia-exporter.probe" -}}
{{- if include "octavia-exporter.tcpProbes" .root -}}
tcpSocket:
  port: metrics
{{- else -}}
httpGet:
  path: {{ .path }}
  port: metrics
  {{- if include "octavia-exporter.https" .root }}
  scheme: HTTPS
  {{- end }}
{{- end }}
{{ toYaml .timing }}
{{- end -}}

{{/* The pod template shared by the Deployment and the sharded StatefulSet. */}}
{{- define "octavia-exporter.podTemplate" -}}
{{- $webSecret := include "octavia-exporter.webConfigSecretName" . -}}
metadata:
  labels:
    {{- include "octavia-exporter.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/component: exporter
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- $annotations := dict -}}
  {{- if not .Values.openstack.existingSecret -}}
  {{- $_ := set $annotations "checksum/clouds" (include "octavia-exporter.cloudsYaml" . | sha256sum) -}}
  {{- end -}}
  {{- if and .Values.webConfig.config (not .Values.webConfig.existingSecret) -}}
  {{- $_ := set $annotations "checksum/web-config" (toYaml .Values.webConfig.config | sha256sum) -}}
  {{- end -}}
  {{- $annotations = merge $annotations .Values.podAnnotations }}
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  serviceAccountName: {{ include "octavia-exporter.serviceAccountName" . }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: octavia-exporter
      image: {{ include "octavia-exporter.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      {{- if .Values.sharding.enabled }}
      # HOSTNAME is the pod's name, <statefulset>-<ordinal>; shards count from 1. `exec`
      # leaves the exporter as PID 1, so that it receives SIGTERM itself.
      command:
        - /bin/sh
        - -c
        - exec octavia-exporter --shard "$((${HOSTNAME##*-} + 1))/${SHARDS}" "$@"
        - octavia-exporter
      {{- end }}
      args:
        - --web.listen-address=:{{ .Values.service.port }}
        {{- if $webSecret }}
        - --web.config.file=/etc/octavia-exporter/web/web-config.yml
        {{- end }}
        {{- if ne .Values.telemetryPath "/metrics" }}
        - --web.telemetry-path={{ .Values.telemetryPath }}
        {{- end }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      env:
        - name: OS_CLOUD
          value: {{ join "," .Values.openstack.clouds | quote }}
        {{- if .Values.sharding.enabled }}
        - name: SHARDS
          value: {{ .Values.replicaCount | quote }}
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      ports:
        - name: metrics
          containerPort: {{ .Values.service.port }}
          protocol: TCP
      livenessProbe:
        {{- include "octavia-exporter.probe" (dict "root" . "path" "/healthz" "timing" .Values.probes.liveness) | nindent 8 }}
      readinessProbe:
        {{- include "octavia-exporter.probe" (dict "root" . "path" "/readyz" "timing" .Values.probes.readiness) | nindent 8 }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.containerSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: clouds
          mountPath: /etc/openstack
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- if $webSecret }}
        - name: web-config
          mountPath: /etc/octavia-exporter/web
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: clouds
      secret:
        secretName: {{ include "octavia-exporter.cloudsSecretName" . }}
        defaultMode: 0440
    - name: tmp
      emptyDir:
        medium: Memory
        sizeLimit: 16Mi
    {{- if $webSecret }}
    # One directory for the web config and its TLS files, so that the file names in the web
    # config can be relative, as exporter-toolkit resolves them.
    - name: web-config
      projected:
        defaultMode: 0440
        sources:
          - secret:
              name: {{ $webSecret }}
              items:
                - key: web-config.yml
                  path: web-config.yml
          {{- with .Values.webConfig.tlsSecret }}
          - secret:
              name: {{ . }}
          {{- end }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
