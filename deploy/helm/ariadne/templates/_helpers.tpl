{{/* The name every object starts with: the release name, or fullnameOverride. */}}
{{- define "ariadne.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "ariadne.serviceAccountName" -}}
{{- default (include "ariadne.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "ariadne.labels" -}}
app.kubernetes.io/name: ariadne
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: dict "root" $ "component" "receive". */}}
{{- define "ariadne.selectorLabels" -}}
app.kubernetes.io/name: ariadne
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ariadne.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* The Kubernetes API URL for the autoscaler. */}}
{{- define "ariadne.kubernetesUrl" -}}
{{- if .Values.kubernetes.proxy.enabled -}}
http://127.0.0.1:{{ .Values.kubernetes.proxy.port }}
{{- else -}}
{{ .Values.kubernetes.url }}
{{- end -}}
{{- end -}}

{{/* Flags every Ariadne container gets: config file, TLS, tokens. */}}
{{- define "ariadne.commonArgs" -}}
- serve
- --config
- /etc/ariadne/config/ariadne.yaml
{{- if .Values.tls.secretName }}
- --tls-cert-file
- /etc/ariadne/tls/tls.crt
- --tls-key-file
- /etc/ariadne/tls/tls.key
{{- if .Values.tls.clientCA }}
- --tls-client-ca-file
- /etc/ariadne/tls/ca.crt
{{- end }}
{{- end }}
{{- if .Values.auth.ingestSecret }}
- --ingest-token-file
- /etc/ariadne/tokens/ingest/tokens
{{- end }}
{{- if .Values.auth.querySecret }}
- --query-token-file
- /etc/ariadne/tokens/query/tokens
{{- end }}
{{- if .Values.auth.adminSecret }}
- --admin-token-file
- /etc/ariadne/tokens/admin/tokens
{{- end }}
{{- end -}}

{{/* Flags of one scale-out role (ASSUMED names: docs/deploy.md#assumed-flags). */}}
{{- define "ariadne.roleArgs" -}}
{{- $v := .root.Values -}}
- --roles
- {{ .role }}
{{- if or (eq .role "receive") (eq .role "ingest") }}
- --kafka-brokers
- {{ required "kafka.brokers is required in scale-out mode" $v.kafka.brokers | quote }}
- --kafka-topic
- {{ $v.kafka.topic | quote }}
{{- end }}
{{- if eq .role "ingest" }}
- --kafka-group
- {{ $v.kafka.group | quote }}
{{- end }}
{{- if or (eq .role "ingest") (eq .role "query") (eq .role "analyze") }}
- --storage
- clickhouse
- --clickhouse-url
- {{ required "clickhouse.url is required in scale-out mode" $v.clickhouse.url | quote }}
{{- end }}
{{- end -}}

{{/* Autoscaler flags (single and control). */}}
{{- define "ariadne.autoscalerArgs" -}}
- --autoscaler
- {{ .Values.control.autoscaler.enabled | quote }}
- --autoscaler-dry-run
- {{ .Values.control.autoscaler.dryRun | quote }}
{{- with .Values.control.autoscaler.services }}
- --autoscaler-services
- {{ join "," . | quote }}
{{- end }}
{{- $url := include "ariadne.kubernetesUrl" . }}
{{- if $url }}
- --kubernetes-url
- {{ $url | quote }}
- --kubernetes-namespace
- {{ .Values.kubernetes.targetNamespace | quote }}
{{- end }}
{{- if .Values.control.kedaPort }}
- --keda-addr
- {{ printf "0.0.0.0:%d" (int .Values.control.kedaPort) | quote }}
{{- end }}
{{- end -}}

{{/* Probes on the query port: /healthz (live), /readyz (ready). */}}
{{- define "ariadne.probes" -}}
{{- $scheme := ternary "HTTPS" "HTTP" (not (empty .Values.tls.secretName)) -}}
startupProbe:
  httpGet: {path: /healthz, port: query, scheme: {{ $scheme }}}
  periodSeconds: 5
  failureThreshold: 120
livenessProbe:
  httpGet: {path: /healthz, port: query, scheme: {{ $scheme }}}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 6
readinessProbe:
  httpGet: {path: /readyz, port: query, scheme: {{ $scheme }}}
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* Volume mounts every Ariadne container has (the data volume is added by the caller). */}}
{{- define "ariadne.volumeMounts" -}}
- name: config
  mountPath: /etc/ariadne/config
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- if .Values.tls.secretName }}
- name: tls
  mountPath: /etc/ariadne/tls
  readOnly: true
{{- end }}
{{- range $scope := list "ingest" "query" "admin" }}
{{- if index $.Values.auth (printf "%sSecret" $scope) }}
- name: tokens-{{ $scope }}
  mountPath: /etc/ariadne/tokens/{{ $scope }}
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{- define "ariadne.volumes" -}}
- name: config
  configMap:
    name: {{ include "ariadne.fullname" . }}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .Values.tls.secretName }}
- name: tls
  secret:
    secretName: {{ .Values.tls.secretName }}
{{- end }}
{{- range $scope := list "ingest" "query" "admin" }}
{{- with index $.Values.auth (printf "%sSecret" $scope) }}
- name: tokens-{{ $scope }}
  secret:
    secretName: {{ . }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The kubectl proxy sidecar: TLS and the service account's token for the autoscaler. */}}
{{- define "ariadne.kubectlProxy" -}}
- name: kubectl-proxy
  image: {{ .Values.kubernetes.proxy.image }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - proxy
    - --address=127.0.0.1
    - --port={{ .Values.kubernetes.proxy.port }}
    - --accept-hosts=^(localhost|127\.0\.0\.1)$
  env:
    - name: HOME                    # kubectl's cache directory, on the tmp volume
      value: /tmp
  volumeMounts:
    - name: tmp
      mountPath: /tmp
  resources:
    {{- toYaml .Values.kubernetes.proxy.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
{{- end -}}

{{/* Pod-level settings shared by every Ariadne pod. */}}
{{- define "ariadne.podSpecCommon" -}}
serviceAccountName: {{ include "ariadne.serviceAccountName" . }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
One scale-out role as a Deployment:
dict "root" $ "role" "receive" "cfg" .Values.receive "replicas" 2 "extraArgs" (list ...) "proxy" false
*/}}
{{- define "ariadne.roleDeployment" -}}
{{- $root := .root -}}
{{- $v := .root.Values -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "ariadne.fullname" $root }}-{{ .role }}
  labels:
    {{- include "ariadne.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
spec:
  replicas: {{ .replicas }}
  {{- if eq .role "control" }}
  strategy:
    type: Recreate                  # never two controllers at once
  {{- end }}
  selector:
    matchLabels:
      {{- include "ariadne.selectorLabels" (dict "root" $root "component" .role) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "ariadne.selectorLabels" (dict "root" $root "component" .role) | nindent 8 }}
      annotations:
        checksum/config: {{ toYaml $v.config | sha256sum }}
        prometheus.io/scrape: "true"
        prometheus.io/port: "16686"
        prometheus.io/path: /metrics
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- include "ariadne.podSpecCommon" $root | nindent 6 }}
      terminationGracePeriodSeconds: 30
      containers:
        - name: ariadne
          image: {{ include "ariadne.image" $root }}
          imagePullPolicy: {{ $v.image.pullPolicy }}
          args:
            {{- include "ariadne.commonArgs" $root | nindent 12 }}
            {{- include "ariadne.roleArgs" . | nindent 12 }}
            {{- with .extraArgs }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $v.extraArgs }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - {name: otlp-grpc, containerPort: 4317}
            - {name: otlp-http, containerPort: 4318}
            - {name: zipkin, containerPort: 9411}
            - {name: query, containerPort: 16686}
            {{- if and (eq .role "control") $v.control.kedaPort }}
            - {name: keda, containerPort: {{ $v.control.kedaPort }}}
            {{- end }}
          {{- include "ariadne.probes" $root | nindent 10 }}
          resources:
            {{- toYaml .cfg.resources | nindent 12 }}
          securityContext:
            {{- toYaml $v.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "ariadne.volumeMounts" $root | nindent 12 }}
            - name: data
              mountPath: {{ $v.config.data_dir }}
        {{- if .proxy }}
        {{- include "ariadne.kubectlProxy" $root | nindent 8 }}
        {{- end }}
      volumes:
        {{- include "ariadne.volumes" $root | nindent 8 }}
        # Spans live in Kafka and ClickHouse: nothing here outlives the pod.
        - name: data
          emptyDir:
            sizeLimit: 1Gi
{{- end -}}
