{{/* Prefix of every object name: nameOverride or the release name. */}}
{{- define "robson.prefix" -}}
{{- default .Release.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end }}

{{/* Object name of one service: <prefix>-<service with dashes>. Call with (list $ $name). */}}
{{- define "robson.name" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "robson.prefix" $root) (replace "_" "-" (index . 1)) -}}
{{- end }}

{{/* Selector labels of one service. Call with (list $ $name). */}}
{{- define "robson.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: robson
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ replace "_" "-" (index . 1) }}
{{- end }}

{{- define "robson.labels" -}}
{{ include "robson.selectorLabels" . }}
{{- $root := index . 0 }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version }}
{{- end }}

{{/* In-cluster URL of a service's HTTP API. Call with (list $ $name). */}}
{{- define "robson.url" -}}
{{- $root := index . 0 -}}
{{- $svc := index $root.Values.services (index . 1) -}}
{{- printf "http://%s:%v" (include "robson.name" .) $svc.port -}}
{{- end }}

{{/*
Plain environment of one service (a dict, rendered as YAML): the chart's settings, then the
service's `env` on top. Call with (list $ $name).
*/}}
{{- define "robson.plainEnv" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- $svc := index $root.Values.services $name -}}
{{- $p := printf "ROBSON_%s_" (upper $name) -}}
{{- $env := dict -}}
{{- if not (include "robson.natsFromSecret" $root) }}{{ $_ := set $env "NATS_URL" (include "robson.natsUrl" $root) }}{{ end -}}
{{- $_ := set $env (print $p "LOG_LEVEL") $root.Values.logLevel -}}
{{- $_ := set $env (print $p "LOG_JSON") $root.Values.logJson -}}
{{- $_ := set $env (print $p "RUN_MIGRATIONS") (ternary true $svc.runMigrations (kindIs "invalid" $svc.runMigrations)) -}}
{{- if eq $name "position" }}
{{- $_ := set $env "ROBSON_POSITION_PAPER_URL" (include "robson.url" (list $root "paper")) -}}
{{- $_ := set $env "ROBSON_POSITION_EXECUTION_URL" (include "robson.url" (list $root "execution")) -}}
{{- end }}
{{- if and (eq $name "signal") $root.Values.auth.serviceTokens.existingSecret }}
{{- $_ := set $env "ROBSON_SIGNAL_GATE_URL" (include "robson.url" (list $root "entry_gate")) -}}
{{- end }}
{{- if eq $name "dashboard" }}
{{- range $peer := list "signal" "decision" "entry_gate" "position" "execution" "paper" }}
{{- $_ := set $env (printf "ROBSON_DASHBOARD_%s_URL" (upper $peer)) (include "robson.url" (list $root $peer)) -}}
{{- end }}
{{- $_ := set $env "ROBSON_DASHBOARD_FETCH_ASSETS" false -}}
{{- $_ := set $env "ROBSON_DASHBOARD_WEB_DIR" "/app/web" -}}
{{- end }}
{{- $reserved := list "DATABASE_URL" (print $p "HTTP_HOST") (print $p "HTTP_PORT") -}}
{{- if $root.Values.database.lockSecret.existingSecret }}{{ $reserved = append $reserved (print $p "LOCK_DATABASE_URL") }}{{ end -}}
{{- if include "robson.natsFromSecret" $root }}{{ $reserved = append $reserved "NATS_URL" }}{{ end -}}
{{- if $root.Values.auth.publicKey.existingSecret }}{{ $reserved = append $reserved "ROBSON_AUTH_PUBLIC_KEY_FILE" }}{{ end -}}
{{- if and $root.Values.auth.serviceTokens.existingSecret (has $name (list "position" "signal")) }}{{ $reserved = append $reserved (print $p "SERVICE_TOKEN") }}{{ end -}}
{{- if and (eq $name "decision") $svc.llmApiKey $svc.llmApiKey.existingSecret }}{{ $reserved = append $reserved "ROBSON_DECISION_LLM_API_KEY" }}{{ end -}}
{{- if and (eq $name "execution") $svc.masterKeys $svc.masterKeys.existingSecret }}{{ $reserved = concat $reserved (list "ROBSON_EXECUTION_MASTER_KEYS" "ROBSON_EXECUTION_MASTER_KEY_FILE") }}{{ end -}}
{{- range $key, $value := ($svc.env | default dict) }}
{{- if has $key $reserved }}
{{- fail (printf "services.%s.env.%s is set by the chart (database, natsSecret, auth, port or the service's secret values); remove it from env" $name $key) }}
{{- end }}
{{- $_ := set $env $key $value -}}
{{- end }}
{{- toYaml $env -}}
{{- end }}

{{/* Services known to the chart (the image runs `python -m robson_<name>`). */}}
{{- define "robson.knownServices" -}}
signal decision entry_gate position execution paper notify dashboard
{{- end }}

{{/* NATS URL: the bundled chart's client Service, else natsUrl. */}}
{{- define "robson.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- $name := default "nats" .Values.nats.nameOverride -}}
{{- $full := .Values.nats.fullnameOverride | default (ternary .Release.Name (printf "%s-%s" .Release.Name $name) (contains $name .Release.Name)) -}}
{{- printf "nats://%s:4222" ($full | trunc 63 | trimSuffix "-") -}}
{{- else -}}
{{- .Values.natsUrl -}}
{{- end -}}
{{- end }}

{{/* "true" when NATS_URL comes from a Secret (external NATS only). */}}
{{- define "robson.natsFromSecret" -}}
{{- if and (not .Values.nats.enabled) .Values.natsSecret.existingSecret }}true{{ end -}}
{{- end }}

{{/* Name of the CloudNativePG Cluster. */}}
{{- define "robson.pgCluster" -}}
{{- printf "%s-pg" (include "robson.prefix" .) -}}
{{- end }}

{{/* The env entry DATABASE_URL: the CloudNativePG app Secret's URI, or database.existingSecret. */}}
{{- define "robson.databaseEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
{{- if .Values.postgresql.cnpg.enabled }}
      name: {{ include "robson.pgCluster" . }}-app
      key: {{ .Values.postgresql.cnpg.secretKey }}
{{- else }}
      name: {{ required "database.existingSecret: name the Secret holding DATABASE_URL (or set postgresql.cnpg.enabled)" .Values.database.existingSecret }}
      key: {{ .Values.database.secretKey }}
{{- end }}
{{- end }}

{{/* The env entry ROBSON_<SVC>_LOCK_DATABASE_URL from database.lockSecret (the service lock's
own connection, direct to PostgreSQL when DATABASE_URL goes through a transaction-mode pooler);
nothing when unset. Call with (list $ $name). */}}
{{- define "robson.lockDatabaseEnv" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- with $root.Values.database.lockSecret.existingSecret }}
- name: ROBSON_{{ upper $name }}_LOCK_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $root.Values.database.lockSecret.secretKey }}
{{- end }}
{{- end }}

{{/* The service's own token for its peers (auth.serviceTokens), for position and signal.
Call with (list $ $name). */}}
{{- define "robson.serviceTokenEnv" -}}
{{- $root := index . 0 -}}
{{- $name := index . 1 -}}
{{- with $root.Values.auth.serviceTokens.existingSecret }}
{{- if has $name (list "position" "signal") }}
- name: ROBSON_{{ upper $name }}_SERVICE_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $name }}
{{- end }}
{{- end }}
{{- end }}

{{/* The env entry NATS_URL from natsSecret, when set. */}}
{{- define "robson.natsSecretEnv" -}}
{{- if include "robson.natsFromSecret" . }}
- name: NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.natsSecret.existingSecret }}
      key: {{ .Values.natsSecret.key }}
{{- end }}
{{- end }}
