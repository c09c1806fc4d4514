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
Namespaced PolicyRules the operator needs wherever it reconciles Rollouts, exactly the calls it makes
(tests/e2e/test_rbac_audit.py compares them with the API server's audit log, both ways).
Used in the ClusterRole (cluster-wide mode) and in each per-namespace Role.
There is deliberately no rule for secrets or configmaps.
*/}}
{{- define "shiftlane.namespacedRules" -}}
# Rollouts: watched, and only their status written.
- apiGroups: ["shiftlane.io"]
  resources: ["rollouts"]
  verbs: ["list", "watch"]
- apiGroups: ["shiftlane.io"]
  resources: ["rollouts/status"]
  verbs: ["patch"]
# Objects owned by a Rollout carry blockOwnerDeletion: clusters that enforce owner-reference
# permissions (OwnerReferencesPermissionEnforcement) require this to create them.
- apiGroups: ["shiftlane.io"]
  resources: ["rollouts/finalizers"]
  verbs: ["update"]
# Analysis: templates are read and marked Valid; the job provider runs Jobs; providers may read auth Secrets.
- apiGroups: ["shiftlane.io"]
  resources: ["analysistemplates"]
  verbs: ["list", "watch"]
- apiGroups: ["shiftlane.io"]
  resources: ["analysistemplates/status"]
  verbs: ["patch"]
- apiGroups: ["batch"]
  resources: ["jobs"]
  verbs: ["get", "create"]
{{- if .Values.analysis.readSecrets }}
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get"]
{{- end }}
# Revision Deployments and the Rollout's Services.
- apiGroups: ["apps"]
  resources: ["deployments"]
  verbs: ["get", "list", "watch", "create", "patch", "delete"]
- apiGroups: [""]
  resources: ["services"]
  verbs: ["list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["list", "watch"]
# Revision Deployments' ReplicaSets: their pod counts, read before the Deployments' status catches up.
- apiGroups: ["apps"]
  resources: ["replicasets"]
  verbs: ["list", "watch"]
# Events about the Rollouts.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
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
{{- include "shiftlane.routerRules" . }}
{{- with .Values.rbac.extraRules }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* ClusterAnalysisTemplates are cluster-scoped: read (and marked Valid) in either install mode. */}}
{{- define "shiftlane.clusterTemplateRules" -}}
- apiGroups: ["shiftlane.io"]
  resources: ["clusteranalysistemplates"]
  verbs: ["list", "watch"]
- apiGroups: ["shiftlane.io"]
  resources: ["clusteranalysistemplates/status"]
  verbs: ["patch"]
{{- end }}

{{/*
Rules for the route objects of the routers turned on in .Values.routers.
*/}}
{{- define "shiftlane.routerRules" -}}
{{- $r := .Values.routers }}
{{- if $r.gatewayAPI }}
- apiGroups: ["gateway.networking.k8s.io"]
  resources: ["httproutes", "grpcroutes"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- if $r.istio }}
- apiGroups: ["networking.istio.io"]
  resources: ["virtualservices", "destinationrules"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- if $r.traefik }}
- apiGroups: ["traefik.io"]
  resources: ["traefikservices"]
  verbs: ["get", "list", "watch", "patch"]
{{- end }}
{{- if or $r.nginx $r.alb }}
# The user's Ingress is read (alb: its annotations patched); nginx applies its own <ingress>-canary
# (server-side apply: a patch, which needs create as well when it creates the object).
- apiGroups: ["networking.k8s.io"]
  resources: ["ingresses"]
  verbs: {{ if $r.nginx }}["get", "list", "watch", "create", "patch"]{{ else }}["get", "list", "watch", "patch"]{{ end }}
{{- end }}
{{- end }}

{{/*
Value of SHIFTLANE_ROUTERS: the routers turned on, comma-separated (empty: none).
*/}}
{{- define "shiftlane.routers" -}}
{{- $on := list }}
{{- range $name, $enabled := .Values.routers }}{{ if $enabled }}{{ $on = append $on $name }}{{ end }}{{ end }}
{{- join "," $on }}
{{- end }}
