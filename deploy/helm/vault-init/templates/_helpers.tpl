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

{{/*
The domain of the nodes' own names, <fullname>-internal.<ns>.svc: node N is
<fullname>-N.<domain>, resolvable from any namespace (the certificate names
it as *.<fullname>-internal.<ns>.svc).
*/}}
{{- define "vault-init.internalDomain" -}}
{{- printf "%s-internal.%s.svc" (include "vault-init.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/*
Every replica's API address, comma-separated: raft's retry_join list and
vault-init's VAULT_INIT_PEERS are both made from it, so they never differ.
*/}}
{{- define "vault-init.nodeAddrs" -}}
{{- $scheme := include "vault-init.scheme" . -}}
{{- $fullname := include "vault-init.fullname" . -}}
{{- $domain := include "vault-init.internalDomain" . -}}
{{- $addrs := list -}}
{{- range $i, $_ := until (int .Values.replicas) -}}
{{- $addrs = append $addrs (printf "%s://%s-%d.%s:8200" $scheme $fullname $i $domain) -}}
{{- end -}}
{{- join "," $addrs -}}
{{- end -}}

{{- define "vault-init.tlsServerName" -}}
{{- default (include "vault-init.fullname" .) .Values.tls.serverName -}}
{{- end -}}

{{/*
Whether to render the PodDisruptionBudget: always with an explicit
maxUnavailable; by default only from 3 replicas. Below 3, raft has no node
to spare: maxUnavailable 0 would block every drain for ever, and 1 would
let a drain take the majority (of 2) or all of Vault (of 1). "true" or "".
*/}}
{{- define "vault-init.pdbEnabled" -}}
{{- if .Values.podDisruptionBudget.enabled -}}
{{- if or (not (kindIs "invalid" .Values.podDisruptionBudget.maxUnavailable)) (ge (int .Values.replicas) 3) -}}
true
{{- end -}}
{{- end -}}
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
{{- $fullname := include "vault-init.fullname" . -}}
{{- if not (regexMatch "^[a-z]([-a-z0-9]*[a-z0-9])?$" $fullname) -}}
{{- fail (printf "the full name %q (from the release name, nameOverride or fullnameOverride) is not a DNS label starting with a letter: it names the Services and the pods (<fullname>-N.<fullname>-internal); set fullnameOverride" $fullname) -}}
{{- end -}}
{{- if and .Values.vaultInit.revokeRoot (not .Values.vaultInit.appToken) -}}
{{- fail "vaultInit.revokeRoot needs vaultInit.appToken: without it no token would be left for the application" -}}
{{- end -}}
{{- if .Values.age.enabled -}}
{{- if not (hasPrefix "age1" .Values.age.recipient) -}}
{{- fail "age.enabled needs age.recipient, an age recipient (age1...): `vault-init age-identity FILE` prints one" -}}
{{- end -}}
{{- end -}}
{{- $fixed := list "VAULT_ADDR" "VAULT_CACERT" "VAULT_TLS_SERVER_NAME" "VAULT_INIT_KEYSTORE" "VAULT_INIT_K8S_SECRET" "VAULT_INIT_K8S_NAMESPACE" "VAULT_INIT_PEERS" "VAULT_INIT_DATA_DIR" "VAULT_INIT_LISTEN" "VAULT_INIT_ADDRS" "VAULT_INIT_INIT_ADDR" "VAULT_INIT_AGE_RECIPIENT" "VAULT_INIT_AGE_IDENTITY_FILE" "VAULT_INIT_APP_TOKEN" "VAULT_INIT_REVOKE_ROOT" "VAULT_INIT_CHECK_INTERVAL" "VAULT_KV_MOUNT" "VAULT_INIT_LOG_FORMAT" "VAULT_INIT_LOG_LEVEL" "VAULT_TOKEN" -}}
{{- range .Values.vaultInit.extraEnv -}}
{{- if has .name $fixed -}}
{{- fail (printf "vaultInit.extraEnv sets %s, which the chart sets itself (or must not be set in a pod): use its value instead" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
