{{/* Names ------------------------------------------------------------------------------- */}}

{{- define "kscore.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* release-chart, or the release name alone when it already holds the chart name. Kept to 50
characters so that "-admin" and "-replay-<id>" suffixes stay within the 63 of a name. */}}
{{- define "kscore.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kscore.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kscore.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kscore.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The scoring pods (not the replay Job's): what the Deployment, Services, PDB and anti-affinity select. */}}
{{- define "kscore.serviceSelectorLabels" -}}
{{ include "kscore.selectorLabels" . }}
app.kubernetes.io/component: service
{{- end }}

{{- define "kscore.labels" -}}
helm.sh/chart: {{ include "kscore.chart" . }}
{{ include "kscore.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kscore
{{- end }}

{{- define "kscore.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kscore.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "kscore.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion | toString) }}
{{- end }}

{{/* Settings ------------------------------------------------------------------------------ */}}

{{/* The HTTP port: config.KSCORE_HTTP_PORT, else the service's default 18080. */}}
{{- define "kscore.httpPort" -}}
{{- $raw := get (.Values.config | default dict) "KSCORE_HTTP_PORT" }}
{{- $port := ternary 18080 (int $raw) (kindIs "invalid" $raw) }}
{{- if or (lt $port 1) (gt $port 65535) }}
{{- fail (printf "config.KSCORE_HTTP_PORT must be a port from 1 to 65535 (0, a random port, cannot be probed), not %v" .Values.config.KSCORE_HTTP_PORT) }}
{{- end }}
{{- $port }}
{{- end }}

{{/* The service's shutdown grace in ms: config.KSCORE_SHUTDOWN_GRACE_MS, else its default 15000. */}}
{{- define "kscore.shutdownGraceMs" -}}
{{- $raw := get (.Values.config | default dict) "KSCORE_SHUTDOWN_GRACE_MS" }}
{{- $ms := ternary 15000 (int64 $raw) (kindIs "invalid" $raw) }}
{{- if lt $ms 1 }}
{{- fail (printf "config.KSCORE_SHUTDOWN_GRACE_MS must be a positive number of ms, not %v" .Values.config.KSCORE_SHUTDOWN_GRACE_MS) }}
{{- end }}
{{- $ms }}
{{- end }}

{{/* terminationGracePeriodSeconds: the service's grace rounded up to whole seconds, plus the margin. */}}
{{- define "kscore.terminationGracePeriodSeconds" -}}
{{- $ms := int64 (include "kscore.shutdownGraceMs" .) }}
{{- $margin := int64 .Values.terminationGraceMarginSeconds }}
{{- if lt $margin 1 }}
{{- fail "terminationGraceMarginSeconds must be at least 1: the kubelet has to wait longer than the service's own KSCORE_SHUTDOWN_GRACE_MS" }}
{{- end }}
{{- add (div (add $ms 999) 1000) $margin }}
{{- end }}

{{/* Settings the chart writes itself, with the value it writes. */}}
{{- define "kscore.ownedSettings" -}}
KSCORE_HTTP_HOST: "0.0.0.0"
KSCORE_MODEL_STORE_DIR: /var/lib/kscore/models
KSCORE_REPLAY_OUTPUT_DIR: /var/lib/kscore/replays
{{- end }}

{{/* Each secret setting: the key under .Values.secrets, and the environment variable that
names its file. The service reads KSCORE_X from the file named by KSCORE_X_FILE. */}}
{{- define "kscore.secretSettings" -}}
apiTokens: KSCORE_API_TOKENS_FILE
kafkaSaslPassword: KSCORE_KAFKA_SASL_PASSWORD_FILE
kafkaTlsCa: KSCORE_KAFKA_TLS_CA_FILE
kafkaTlsCert: KSCORE_KAFKA_TLS_CERT_FILE
kafkaTlsKey: KSCORE_KAFKA_TLS_KEY_FILE
schemaRegistryPassword: KSCORE_SCHEMA_REGISTRY_PASSWORD_FILE
schemaRegistryCa: KSCORE_SCHEMA_REGISTRY_CA_FILE
redisPassword: KSCORE_REDIS_PASSWORD_FILE
redisTlsCa: KSCORE_REDIS_TLS_CA_FILE
{{- end }}

{{- define "kscore.secretsDir" -}}/etc/kscore/secrets{{- end }}

{{/* The secret settings in use (existingSecret given), as a YAML map key -> {secret, key, env, path}. */}}
{{- define "kscore.secretsInUse" -}}
{{- $known := include "kscore.secretSettings" . | fromYaml }}
{{- $dir := include "kscore.secretsDir" . }}
{{- $out := dict }}
{{- range $name, $ref := .Values.secrets }}
{{- if not (hasKey $known $name) }}
{{- fail (printf "secrets.%s is not a secret setting of kscore; known: %s" $name (keys $known | sortAlpha | join ", ")) }}
{{- end }}
{{- if and $ref $ref.existingSecret }}
{{- if not $ref.key }}
{{- fail (printf "secrets.%s.key is empty: name the key of Secret %q that holds the value" $name $ref.existingSecret) }}
{{- end }}
{{- $_ := set $out $name (dict "secret" $ref.existingSecret "key" $ref.key "env" (get $known $name) "path" (printf "%s/%s" $dir $name)) }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* Render-time checks of the settings; fails with a message naming the value to fix. */}}
{{- define "kscore.validate" -}}
{{- $owned := include "kscore.ownedSettings" . | fromYaml }}
{{- $config := .Values.config | default dict }}
{{- range $name, $value := $config }}
{{- if not (regexMatch "^(KSCORE_[A-Z0-9_]+|KAFKA_BROKERS|SCHEMA_REGISTRY_URL|REDIS_URL)$" $name) }}
{{- fail (printf "config.%s: settings are environment variables named KSCORE_*, KAFKA_BROKERS, SCHEMA_REGISTRY_URL or REDIS_URL" $name) }}
{{- end }}
{{- if or (has $name (list "KSCORE_API_TOKENS" "KSCORE_KAFKA_SASL_PASSWORD" "KSCORE_SCHEMA_REGISTRY_PASSWORD" "KSCORE_REDIS_PASSWORD")) (hasSuffix "_FILE" $name) }}
{{- fail (printf "config.%s is a secret setting and config goes into a ConfigMap: put the value in a Secret and name it under `secrets` (the chart passes it as a file with the *_FILE variant)" $name) }}
{{- end }}
{{- if hasKey $owned $name }}
{{- fail (printf "config.%s is set by the chart (%s): leave it out" $name (get $owned $name)) }}
{{- end }}
{{- if kindIs "map" $value }}
{{- fail (printf "config.%s must be a string, number or boolean" $name) }}
{{- end }}
{{- if kindIs "slice" $value }}
{{- fail (printf "config.%s must be a string, number or boolean" $name) }}
{{- end }}
{{- end }}
{{- range $name := list "REDIS_URL" "SCHEMA_REGISTRY_URL" }}
{{- if regexMatch "^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@]*:[^/@]*@" (get $config $name | default "" | toString) }}
{{- fail (printf "config.%s holds a password, and config goes into a ConfigMap: give the URL without it and the password in a Secret (secrets.%s)" $name (ternary "redisPassword" "schemaRegistryPassword" (eq $name "REDIS_URL"))) }}
{{- end }}
{{- end }}
{{- $protocol := get $config "KSCORE_KAFKA_SECURITY_PROTOCOL" | default "plaintext" | toString }}
{{- if not (has $protocol (list "plaintext" "ssl" "sasl_plaintext" "sasl_ssl")) }}
{{- fail (printf "config.KSCORE_KAFKA_SECURITY_PROTOCOL must be plaintext, ssl, sasl_plaintext or sasl_ssl, not %q" $protocol) }}
{{- end }}
{{- $mechanism := get $config "KSCORE_KAFKA_SASL_MECHANISM" | default "" | toString }}
{{- if hasPrefix "sasl_" $protocol }}
{{- if not (has $mechanism (list "plain" "scram-sha-256" "scram-sha-512" "oauthbearer")) }}
{{- fail (printf "config.KSCORE_KAFKA_SECURITY_PROTOCOL is %s: config.KSCORE_KAFKA_SASL_MECHANISM must be plain, scram-sha-256, scram-sha-512 or oauthbearer, not %q" $protocol $mechanism) }}
{{- end }}
{{- if and (ne $mechanism "oauthbearer") (not (get $config "KSCORE_KAFKA_SASL_USERNAME")) }}
{{- fail (printf "SASL mechanism %s needs config.KSCORE_KAFKA_SASL_USERNAME" $mechanism) }}
{{- end }}
{{- if and (ne $mechanism "oauthbearer") (not .Values.secrets.kafkaSaslPassword.existingSecret) }}
{{- fail (printf "SASL mechanism %s needs the password in a Secret: set secrets.kafkaSaslPassword.existingSecret (and .key)" $mechanism) }}
{{- end }}
{{- else if $mechanism }}
{{- fail (printf "config.KSCORE_KAFKA_SASL_MECHANISM is set but KSCORE_KAFKA_SECURITY_PROTOCOL is %s: use sasl_plaintext or sasl_ssl" $protocol) }}
{{- end }}
{{- $client := get $config "KSCORE_KAFKA_CLIENT" | default "kafkajs" | toString }}
{{- if not (has $client (list "kafkajs" "librdkafka")) }}
{{- fail (printf "config.KSCORE_KAFKA_CLIENT must be kafkajs or librdkafka, not %q" $client) }}
{{- end }}
{{- $cert := .Values.secrets.kafkaTlsCert.existingSecret }}
{{- $key := .Values.secrets.kafkaTlsKey.existingSecret }}
{{- if or (and $cert (not $key)) (and $key (not $cert)) }}
{{- fail "secrets.kafkaTlsCert and secrets.kafkaTlsKey go together (mutual TLS): set both or neither" }}
{{- end }}
{{- if and .Values.keda.enabled .Values.autoscaling.enabled }}
{{- fail "keda.enabled and autoscaling.enabled are both true: KEDA runs its own HorizontalPodAutoscaler, and two would fight over the Deployment. Turn autoscaling off." }}
{{- end }}
{{- if .Values.keda.enabled }}
{{- $max := int .Values.keda.maxReplicaCount }}
{{- $min := int .Values.keda.minReplicaCount }}
{{- $partitions := int .Values.topicPartitions }}
{{- if gt $max $partitions }}
{{- fail (printf "keda.maxReplicaCount (%d) is above topicPartitions (%d): a consumer group gives each partition to one member, so replicas past %d would sit idle. Lower keda.maxReplicaCount or add partitions to the topic and raise topicPartitions." $max $partitions $partitions) }}
{{- end }}
{{- if or (lt $min 0) (gt $min $max) }}
{{- fail (printf "keda.minReplicaCount (%d) must be from 0 to keda.maxReplicaCount (%d)" $min $max) }}
{{- end }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.adminService.enabled) }}
{{- fail "metrics.serviceMonitor scrapes through the admin Service (every pod, ready or not): enable adminService" }}
{{- end }}
{{- end }}

{{/* Pod parts shared by the Deployment and the replay Job ------------------------------------- */}}

{{/* Environment: the ConfigMap, and the *_FILE variable of each secret setting in use. */}}
{{- define "kscore.envFrom" -}}
- configMapRef:
    name: {{ include "kscore.fullname" . }}
{{- end }}

{{- define "kscore.env" -}}
{{- $secrets := include "kscore.secretsInUse" . | fromYaml }}
{{- range $name := keys $secrets | sortAlpha }}
{{- $s := get $secrets $name }}
- name: {{ $s.env }}
  value: {{ $s.path | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "kscore.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
- name: model-store
  mountPath: /var/lib/kscore/models
- name: replays
  mountPath: /var/lib/kscore/replays
{{- if include "kscore.secretsInUse" . | fromYaml }}
- name: secrets
  mountPath: {{ include "kscore.secretsDir" . }}
  readOnly: true
{{- end }}
{{- end }}

{{- define "kscore.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
- name: model-store
{{- if .Values.modelStore.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.modelStore.existingClaim }}
{{- else if .Values.modelStore.create }}
  persistentVolumeClaim:
    claimName: {{ include "kscore.fullname" . }}-models
{{- else }}
  emptyDir:
    sizeLimit: {{ .Values.modelStore.emptyDirSizeLimit }}
{{- end }}
- name: replays
  emptyDir:
    sizeLimit: {{ .Values.replayOutputSizeLimit }}
{{- $secrets := include "kscore.secretsInUse" . | fromYaml }}
{{- if $secrets }}
- name: secrets
  projected:
    # Readable by the pod's group (fsGroup) only.
    defaultMode: 0440
    sources:
{{- range $name := keys $secrets | sortAlpha }}
{{- $s := get $secrets $name }}
      - secret:
          name: {{ $s.secret }}
          items:
            - key: {{ $s.key | quote }}
              path: {{ $name }}
{{- end }}
{{- end }}
{{- end }}

{{/* A setting's value as the text of an environment variable. YAML numbers reach templates as
floats, which print as 2.68435456e+08: whole numbers are printed as integers. */}}
{{- define "kscore.envValue" -}}
{{- if and (kindIs "float64" .) (eq . (float64 (int64 .))) }}
{{- int64 . }}
{{- else }}
{{- toString . }}
{{- end }}
{{- end }}
