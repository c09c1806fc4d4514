{{/*
Chart name, truncated to the 63 characters a DNS label allows.
*/}}
{{- define "shiftlane.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: "<release>-<name>", or just the release name when it
already contains the chart name. Truncated to 63 characters.
*/}}
{{- define "shiftlane.fullname" -}}
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

{{/*
"name-version" for the helm.sh/chart label.
*/}}
{{- define "shiftlane.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels: stable across upgrades, used by the Deployment selector,
the Service, the ServiceMonitor and the PodDisruptionBudget.
*/}}
{{- define "shiftlane.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shiftlane.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Standard labels put on every object the chart renders.
*/}}
{{- define "shiftlane.labels" -}}
helm.sh/chart: {{ include "shiftlane.chart" . }}
{{ include "shiftlane.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: shiftlane
{{- end }}

{{/*
Name of the ServiceAccount the operator runs as.
*/}}
{{- define "shiftlane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "shiftlane.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image reference: repository@digest when a digest is set, else
repository:tag with the tag defaulting to the chart's appVersion.
*/}}
{{- define "shiftlane.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Value of SHIFTLANE_WATCH_NAMESPACES: comma-separated, empty = all namespaces.
*/}}
{{- define "shiftlane.watchNamespaces" -}}
{{- join "," .Values.watchNamespaces }}
{{- end }}

{{/*
Namespaced PolicyRules the operator needs wherever it reconciles Rollouts.
Used in the ClusterRole (cluster-wide mode) and in each per-namespace Role.
There is deliberately no rule for secrets or configmaps.
*/}}
{{- define "shiftlane.namespacedRules" -}}
# Rollout custom resources and their subresources.
- apiGroups: ["shiftlane.io"]
  resources: ["rollouts"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["shiftlane.io"]
  resources: ["rollouts/status"]
  verbs: ["get", "patch", "update"]
- apiGroups: ["shiftlane.io"]
  resources: ["rollouts/scale"]
  verbs: ["get", "patch", "update"]
# Analysis: templates are read and marked Valid; the job provider runs Jobs; providers read auth Secrets.
- apiGroups: ["shiftlane.io"]
  resources: ["analysistemplates"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["shiftlane.io"]
  resources: ["analysistemplates/status"]
  verbs: ["patch"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "create"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
# Workloads and Services the operator owns.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch"]
# Events about the objects it handles.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
# Traffic-routing objects: Gateway API, Istio, Traefik, Ingress.
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes", "grpcroutes"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices", "destinationrules"]
  verbs: ["get", "list", "watch", "patch", "update"]
- apiGroups: ["traefik.io"]
  resources: ["traefikservices"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
# Leader election.
- apiGroups: ["coordination.k8s.io"]
  resources: ["leases"]
  verbs: ["get", "create", "update"]
{{- if .Values.ecr.pullSecrets.enabled }}
# ECR pull Secrets (ecr.pullSecrets): created once per namespace, then only that name read and replaced.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["secrets"]
  resourceNames: ["shiftlane-ecr-pull"]
  verbs: ["get", "update"]
{{- end }}
{{- with .Values.rbac.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* ClusterAnalysisTemplates are cluster-scoped: read (and marked Valid) in either install mode. */}}
{{- define "shiftlane.clusterTemplateRules" -}}
- apiGroups: ["shiftlane.io"]
  resources: ["clusteranalysistemplates"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["shiftlane.io"]
  resources: ["clusteranalysistemplates/status"]
  verbs: ["patch"]
{{- end }}
