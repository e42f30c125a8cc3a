{{/*
The engine's pod template, shared by the StatefulSet and the Deployment.
*/}}
{{- define "revenue-engine.podTemplate" -}}
metadata:
  labels:
    {{- include "revenue-engine.labels" . | nindent 4 }}
    app.kubernetes.io/component: engine
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # Configuration changes roll the pods; use-case changes do not (they are hot-reloaded).
    checksum/config: {{ include "revenue-engine.engineConfig" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "revenue-engine.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: engine
      image: {{ include "revenue-engine.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - run
        - --config
        - {{ include "revenue-engine.configPath" . }}
      ports:
        - name: http
          containerPort: {{ .Values.containerPort }}
          protocol: TCP
      {{- $creds := .Values.kafkaCredentials }}
      {{- $secretProps := dict }}
      {{- with $creds.saslUsernameKey }}{{ $_ := set $secretProps "sasl.username" . }}{{ end }}
      {{- with $creds.saslPasswordKey }}{{ $_ := set $secretProps "sasl.password" . }}{{ end }}
      {{- range $property, $key := $creds.properties }}{{ $_ := set $secretProps $property $key }}{{ end }}
      {{- if or (and $creds.existingSecret $secretProps) .Values.extraEnv }}
      env:
        {{- if $creds.existingSecret }}
        {{- range $property, $key := $secretProps }}
        {{- if not (regexMatch "^[a-z0-9]+(\\.[a-z0-9]+)*$" $property) }}
        {{- fail (printf "kafkaCredentials.properties: %q cannot be passed through the environment (lower-case words joined by dots only)" $property) }}
        {{- end }}
        - name: REVENUE_ENGINE__KAFKA__PROPERTIES__{{ $property | upper | replace "." "_" }}
          valueFrom:
            secretKeyRef:
              name: {{ $creds.existingSecret }}
              key: {{ $key }}
        {{- end }}
        {{- end }}
        {{- with .Values.extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with .Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if .Values.startupProbe.enabled }}
      startupProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ .Values.startupProbe.periodSeconds }}
        timeoutSeconds: {{ .Values.startupProbe.timeoutSeconds }}
        failureThreshold: {{ .Values.startupProbe.failureThreshold }}
      {{- end }}
      {{- if .Values.livenessProbe.enabled }}
      livenessProbe:
        httpGet:
          path: /healthz
          port: http
        periodSeconds: {{ .Values.livenessProbe.periodSeconds }}
        timeoutSeconds: {{ .Values.livenessProbe.timeoutSeconds }}
        failureThreshold: {{ .Values.livenessProbe.failureThreshold }}
      {{- end }}
      {{- if .Values.readinessProbe.enabled }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: {{ .Values.readinessProbe.periodSeconds }}
        timeoutSeconds: {{ .Values.readinessProbe.timeoutSeconds }}
        failureThreshold: {{ .Values.readinessProbe.failureThreshold }}
      {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: {{ include "revenue-engine.configPath" . }}
          subPath: config.yaml
          readOnly: true
        # A directory mount, not subPath: the kubelet swaps a changed ConfigMap in atomically and
        # the engine hot-reloads it.
        - name: usecases
          mountPath: {{ include "revenue-engine.useCasesPath" . }}
          readOnly: true
        {{- if include "revenue-engine.modelsConfigMapName" . }}
        - name: usecase-models
          mountPath: {{ include "revenue-engine.useCasesPath" . }}/models
          readOnly: true
        {{- end }}
        - name: state
          mountPath: {{ include "revenue-engine.statePath" . }}
        - name: tmp
          mountPath: /tmp
        {{- if and $creds.existingSecret $creds.mountPath }}
        - name: kafka-credentials
          mountPath: {{ $creds.mountPath }}
          readOnly: true
        {{- end }}
        {{- if .Values.customerApi.enabled }}
        # The customer API token, passed to the engine as http.customer_api.token_file.
        - name: customer-api-token
          mountPath: {{ include "revenue-engine.customerApiPath" . }}
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "revenue-engine.configMapName" . }}
    - name: usecases
      configMap:
        name: {{ include "revenue-engine.useCasesConfigMapName" . }}
    {{- with include "revenue-engine.modelsConfigMapName" . }}
    - name: usecase-models
      configMap:
        name: {{ . }}
    {{- end }}
    {{- if not (include "revenue-engine.persistent" .) }}
    - name: state
      emptyDir:
        {{- with .Values.stateEmptyDir.medium }}
        medium: {{ . }}
        {{- end }}
        {{- with .Values.stateEmptyDir.sizeLimit }}
        sizeLimit: {{ . }}
        {{- end }}
    {{- end }}
    - name: tmp
      emptyDir:
        {{- with .Values.tmpDir.sizeLimit }}
        sizeLimit: {{ . }}
        {{- end }}
    {{- if and $creds.existingSecret $creds.mountPath }}
    - name: kafka-credentials
      secret:
        secretName: {{ $creds.existingSecret }}
    {{- end }}
    {{- if .Values.customerApi.enabled }}
    - name: customer-api-token
      secret:
        secretName: {{ include "revenue-engine.customerApiSecretName" . }}
        items:
          - key: {{ .Values.customerApi.tokenKey }}
            path: {{ .Values.customerApi.tokenKey }}
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  topologySpreadConstraints:
    {{- if .Values.topologySpreadConstraints }}
    {{- toYaml .Values.topologySpreadConstraints | nindent 4 }}
    {{- else }}
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "revenue-engine.selectorLabels" . | nindent 10 }}
    {{- end }}
{{- end }}
