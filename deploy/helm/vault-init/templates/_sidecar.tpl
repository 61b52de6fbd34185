{{/*
The vault-init container: it watches the Vault of its own pod only, keeps the
keys in the keys Secret (creating it if no sidecar has yet), initializes Vault
when it is the one that created the Secret, and unseals its Vault whenever it
is sealed.
*/}}
{{- define "vault-init.sidecar" -}}
{{- $scheme := include "vault-init.scheme" . -}}
- name: vault-init
  image: "{{ .Values.vaultInit.image.repository }}:{{ .Values.vaultInit.image.tag | default .Chart.AppVersion }}"
  imagePullPolicy: {{ .Values.vaultInit.image.pullPolicy }}
  args: ["run"]
  env:
    - name: VAULT_ADDR
      value: "{{ $scheme }}://127.0.0.1:8200"
    {{- if .Values.tls.secretName }}
    - name: VAULT_CACERT
      value: /vault/tls/ca.crt
    - name: VAULT_TLS_SERVER_NAME
      value: {{ include "vault-init.tlsServerName" . | quote }}
    {{- end }}
    - name: VAULT_INIT_KEYSTORE
      value: kubernetes
    - name: VAULT_INIT_K8S_SECRET
      value: {{ include "vault-init.keysSecret" . | quote }}
    - name: VAULT_INIT_K8S_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    # Every replica, as in retry_join: vault-init refuses sys/init while one
    # of them answers that it is initialized (the keys Secret gone, a new
    # pod: it must join that cluster, not start a second one). Its own
    # node's address among them is harmless: it is the uninitialized one.
    - name: VAULT_INIT_PEERS
      value: {{ include "vault-init.nodeAddrs" . | quote }}
    - name: VAULT_INIT_DATA_DIR
      value: /vault-init
    # All interfaces: the kubelet probes the pod's IP, not 127.0.0.1.
    - name: VAULT_INIT_LISTEN
      value: ":{{ .Values.vaultInit.listenPort }}"
    - name: VAULT_INIT_APP_TOKEN
      value: {{ .Values.vaultInit.appToken | toString | quote }}
    - name: VAULT_INIT_REVOKE_ROOT
      value: {{ .Values.vaultInit.revokeRoot | toString | quote }}
    {{- with .Values.vaultInit.checkInterval }}
    - name: VAULT_INIT_CHECK_INTERVAL
      value: {{ . | quote }}
    {{- end }}
    {{- with .Values.vaultInit.kvMount }}
    - name: VAULT_KV_MOUNT
      value: {{ . | quote }}
    {{- end }}
    {{- with .Values.vaultInit.logFormat }}
    - name: VAULT_INIT_LOG_FORMAT
      value: {{ . | quote }}
    {{- end }}
    {{- with .Values.vaultInit.logLevel }}
    - name: VAULT_INIT_LOG_LEVEL
      value: {{ . | quote }}
    {{- end }}
    {{- if .Values.age.enabled }}
    - name: VAULT_INIT_AGE_RECIPIENT
      value: {{ .Values.age.recipient | quote }}
    - name: VAULT_INIT_AGE_IDENTITY_FILE
      value: /vault-init-age/identity.txt
    {{- end }}
    {{- with .Values.vaultInit.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  ports:
    - name: vault-init
      containerPort: {{ .Values.vaultInit.listenPort }}
  # Liveness only: /healthz answers while the process runs. /readyz is not
  # the pod's readiness: it needs the KV mount configured through the active
  # node, which a standby's sidecar never does. The pod's readiness is its
  # Vault's (unsealed), from the vault container's probe.
  livenessProbe:
    httpGet:
      path: /healthz
      port: vault-init
    periodSeconds: 10
    timeoutSeconds: 3
    failureThreshold: 3
  resources:
    {{- toYaml .Values.vaultInit.resources | nindent 4 }}
  securityContext:
    runAsUser: 65532
    runAsGroup: 65532
    runAsNonRoot: true
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    capabilities:
      drop: ["ALL"]
  volumeMounts:
    - name: vault-init-data
      mountPath: /vault-init
    - name: kube-api-access
      mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      readOnly: true
    {{- if .Values.tls.secretName }}
    # The CA alone (VAULT_CACERT), never tls.key.
    - name: tls-ca
      mountPath: /vault/tls
      readOnly: true
    {{- end }}
    {{- if .Values.age.enabled }}
    - name: age-identity
      mountPath: /vault-init-age
      readOnly: true
    {{- end }}
{{- end -}}
