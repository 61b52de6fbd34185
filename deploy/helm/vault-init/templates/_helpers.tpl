{{/* The chart's name. */}}
{{- define "vault-init.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release's full name: the StatefulSet, the services and the pods
(<fullname>-N) carry it. 52 characters at most, so that the pods' names and
"<fullname>-internal" stay valid DNS labels.
*/}}
{{- define "vault-init.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "vault-init.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "vault-init.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vault-init.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "vault-init.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "vault-init.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The keys Secret's name: vault-init creates it; the chart never does. */}}
{{- define "vault-init.keysSecret" -}}
{{- default (printf "%s-keys" (include "vault-init.fullname" .)) .Values.keystore.secretName -}}
{{- end -}}

{{- define "vault-init.serviceAccountName" -}}
{{- default (include "vault-init.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "vault-init.ageSecret" -}}
{{- default (printf "%s-age" (include "vault-init.fullname" .)) .Values.age.identitySecret.name -}}
{{- end -}}

{{- define "vault-init.scheme" -}}
{{- if .Values.tls.secretName -}}https{{- else -}}http{{- end -}}
{{- end -}}

{{- define "vault-init.tlsServerName" -}}
{{- default (include "vault-init.fullname" .) .Values.tls.serverName -}}
{{- end -}}

{{/* floor((replicas-1)/2): the nodes raft can lose and keep a majority. */}}
{{- define "vault-init.maxUnavailable" -}}
{{- if not (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable) -}}
{{- .Values.podDisruptionBudget.maxUnavailable -}}
{{- else -}}
{{- div (sub (int .Values.replicas) 1) 2 -}}
{{- end -}}
{{- end -}}

{{/* Checks of values that would otherwise fail late, inside a pod. */}}
{{- define "vault-init.validate" -}}
{{- if lt (int .Values.replicas) 1 -}}
{{- fail "replicas must be at least 1" -}}
{{- end -}}
{{- if and .Values.vaultInit.revokeRoot (not .Values.vaultInit.appToken) -}}
{{- fail "vaultInit.revokeRoot needs vaultInit.appToken: without it no token would be left for the application" -}}
{{- end -}}
{{- if .Values.age.enabled -}}
{{- if not (hasPrefix "age1" .Values.age.recipient) -}}
{{- fail "age.enabled needs age.recipient, an age recipient (age1...): `vault-init age-identity FILE` prints one" -}}
{{- end -}}
{{- end -}}
{{- $fixed := list "VAULT_ADDR" "VAULT_CACERT" "VAULT_TLS_SERVER_NAME" "VAULT_INIT_KEYSTORE" "VAULT_INIT_K8S_SECRET" "VAULT_INIT_K8S_NAMESPACE" "VAULT_INIT_DATA_DIR" "VAULT_INIT_LISTEN" "VAULT_INIT_ADDRS" "VAULT_INIT_INIT_ADDR" "VAULT_INIT_AGE_RECIPIENT" "VAULT_INIT_AGE_IDENTITY_FILE" "VAULT_INIT_APP_TOKEN" "VAULT_INIT_REVOKE_ROOT" "VAULT_INIT_CHECK_INTERVAL" "VAULT_KV_MOUNT" "VAULT_INIT_LOG_FORMAT" "VAULT_INIT_LOG_LEVEL" "VAULT_TOKEN" -}}
{{- range .Values.vaultInit.extraEnv -}}
{{- if has .name $fixed -}}
{{- fail (printf "vaultInit.extraEnv sets %s, which the chart sets itself (or must not be set in a pod): use its value instead" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
