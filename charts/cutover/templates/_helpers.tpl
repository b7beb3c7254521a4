{{- define "cutover.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "cutover.serviceAccountName" -}}
{{- default (include "cutover.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "cutover.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "cutover.labels" -}}
{{ include "cutover.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* ARM endpoint, token audience and Entra authority of the chosen cloud, unless overridden. */}}
{{- define "cutover.armEndpoint" -}}
{{- $clouds := dict "AzurePublicCloud" "https://management.azure.com/" "AzureUSGovernment" "https://management.usgovcloudapi.net/" "AzureChinaCloud" "https://management.chinacloudapi.cn/" -}}
{{- default (get $clouds .Values.azure.cloud) .Values.azure.armEndpoint -}}
{{- end -}}

{{- define "cutover.armAudience" -}}
{{- $clouds := dict "AzurePublicCloud" "https://management.azure.com" "AzureUSGovernment" "https://management.usgovcloudapi.net" "AzureChinaCloud" "https://management.chinacloudapi.cn" -}}
{{- default (get $clouds .Values.azure.cloud) .Values.azure.armAudience -}}
{{- end -}}

{{- define "cutover.authorityHost" -}}
{{- $clouds := dict "AzurePublicCloud" "https://login.microsoftonline.com/" "AzureUSGovernment" "https://login.microsoftonline.us/" "AzureChinaCloud" "https://login.chinacloudapi.cn/" -}}
{{- default (get $clouds .Values.azure.cloud) .Values.azure.authorityHost -}}
{{- end -}}

{{/* The controller's rules: the same as deploy/base/rbac.yaml (a test compares them). */}}
{{- define "cutover.rules" -}}
- apiGroups: [cutover.dev]
  resources: [recoveryvaults, migrationplans]
  verbs: [get, list, watch, patch, update]
- apiGroups: [cutover.dev]
  resources: [replicatedmachines]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [cutover.dev]
  resources: [recoveryvaults/status, migrationplans/status, replicatedmachines/status]
  verbs: [get, patch, update]
- apiGroups: [cutover.dev]
  resources: [recoveryvaults/finalizers, migrationplans/finalizers, replicatedmachines/finalizers]
  verbs: [update]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
- apiGroups: [batch]
  # A plan's hooks: the Jobs it creates for its machines' steps, and follows.
  resources: [jobs]
  verbs: [get, list, watch, create]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end -}}
