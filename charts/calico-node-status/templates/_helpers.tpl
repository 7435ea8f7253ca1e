{{/*
Labels of every object: the same as config/'s (name, and component when given), plus Helm's.
Call with (dict "root" $ "component" "agent").
*/}}
{{- define "cns.labels" -}}
app.kubernetes.io/name: calico-node-status
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{- end }}

{{/* The agent's pod selector: fixed, never Helm's labels, so upgrades keep matching the pods. */}}
{{- define "cns.selector" -}}
app.kubernetes.io/name: calico-node-status
app.kubernetes.io/component: agent
{{- end }}

{{- define "cns.priorityClassName" -}}
{{- .Values.priorityClass.name -}}
{{- end }}
