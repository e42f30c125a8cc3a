#!/usr/bin/env bash
# Checks the monitoring assets against the real tools, offline:
#   (a) the alert rules: `promtool check rules`, the compose Prometheus config (`promtool check
#       config`), and unit tests of every alert (`promtool test rules`, scenarios below);
#   (b) the Grafana dashboards: valid JSON, a sane structure, and every PromQL expression parses
#       (each one, its Grafana variables filled in, becomes a recording rule for `promtool check
#       rules`);
#   (c) a running engine: `revenue-engine demo --keep-running` on a free port; its live /metrics
#       goes through `promtool check metrics`, every revenue_engine_* name the dashboards and
#       alerts use must be in it, and so must the contact-policy and measurement families;
#   (d) a real Prometheus server (scrapes the demo every 1 s, loads the alert rules): its query
#       API must return revenue_engine_input_events_total, every rule must be loaded and evaluate
#       without error, and every dashboard query must run without error;
#   (e) everything started here is stopped on exit.
# Prints a summary; exits non-zero when a check fails. Works unattended (CI=true, no stdin):
# installs the Debian packages it lacks (prometheus, curl, python3, python3-yaml).
#
# Environment:
#   REVENUE_ENGINE_BIN   the engine binary (default: $CARGO_TARGET_DIR/release/revenue-engine,
#                        CARGO_TARGET_DIR defaulting to ~/.cache/revenue-engine/target); not built here
#   ALERTS               alert rule file (default deploy/prometheus/alerts.yml)
#   DASHBOARDS           dashboard file or folder (default deploy/grafana/dashboards)
#   ALLOW_MISSING_METRICS  names the dashboards/alerts may use although the demo's /metrics lacks
#                        them (reported as warnings); see the default below
#   REQUIRED_FAMILIES    metric families the demo's /metrics must hold, each missing one named
#                        in the failure (default: the contact-policy and measurement families)
#   DEMO_EVENTS, DEMO_RATE   size of the demo run (default 20000 events at 2000/s)
#   WAIT_SECONDS         how long to wait for each thing to come up (default 90)
#   KEEP_WORK=1          keep the temporary folder (logs, generated files)
set -euo pipefail
cd "$(dirname "$0")/.."

ALERTS=${ALERTS:-deploy/prometheus/alerts.yml}
PROM_CONFIG=${PROM_CONFIG:-deploy/prometheus/prometheus.yml}
DASHBOARDS=${DASHBOARDS:-deploy/grafana/dashboards}
TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/revenue-engine/target}
BIN=${REVENUE_ENGINE_BIN:-$TARGET_DIR/release/revenue-engine}
DEMO_EVENTS=${DEMO_EVENTS:-20000}
DEMO_RATE=${DEMO_RATE:-2000}
WAIT_SECONDS=${WAIT_SECONDS:-90}
JOB=revenue-engine
# Metrics the demo does not export, although the engine has them:
#   shadow_actions_total  the reference use cases are all live (no shadow use case in the demo);
#   use_case_reloads_total has a series only after a use-case directory change.
# And ones an engine binary built before they were added lacks (input_lag_messages,
# use_case_info); they are reported as present once the binary exports them.
# Metric families of the contact policy and measurement (issue 8) that the demo's /metrics must
# hold (a # TYPE line or a sample); each missing one is named in the failure. A labelled family
# appears only once a series of it was incremented, so the demo must exercise the policy.
REQUIRED_FAMILIES=${REQUIRED_FAMILIES-revenue_engine_actions_total revenue_engine_policy_suppressed_total revenue_engine_policy_deferred_total revenue_engine_policy_deferred_delivered_total revenue_engine_attribution_exposures_total revenue_engine_attribution_converted_total revenue_engine_attribution_conversions_total revenue_engine_attribution_revenue_total revenue_engine_attribution_revenue_squared_total revenue_engine_lift_conversion_rate_difference_ratio revenue_engine_lift_incremental_revenue}
ALLOW_MISSING_METRICS=${ALLOW_MISSING_METRICS-revenue_engine_shadow_actions_total revenue_engine_use_case_reloads_total revenue_engine_input_lag_messages revenue_engine_use_case_info}

[ -f "$ALERTS" ] || { echo "error: no alert rule file $ALERTS" >&2; exit 2; }
[ -e "$DASHBOARDS" ] || { echo "error: no dashboard file or folder $DASHBOARDS" >&2; exit 2; }
ALERTS_ABS=$(cd "$(dirname "$ALERTS")" && pwd)/$(basename "$ALERTS")

# ------------------------------------------------------------------------------------ tools
need=()
{ command -v promtool && command -v prometheus; } >/dev/null 2>&1 || need+=(prometheus)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
python3 -c 'import yaml' >/dev/null 2>&1 || need+=(python3-yaml)
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq </dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null
fi
PROMTOOL=$(command -v promtool)
PROMETHEUS=$(command -v prometheus)

# ------------------------------------------------------------------------------------ bookkeeping
work=$(mktemp -d "${TMPDIR:-/tmp}/check-monitoring.XXXXXX")
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
summary=()
step_start=$SECONDS
begin() { step_start=$SECONDS; echo; echo "== $*"; }
ok() { passed=$((passed + 1)); summary+=("PASS  $1 ($((SECONDS - step_start))s)"); echo "PASS: $1"; }
bad() { failed=$((failed + 1)); summary+=("FAIL  $1 ($((SECONDS - step_start))s)"); echo "FAIL: $1" >&2; }
warn() { summary+=("WARN  $1"); echo "WARN: $1"; }
show() { sed "s/^/    /" "$1" | uniq | tail -n "${2:-40}"; }

# Waits until a command succeeds, at most WAIT_SECONDS; fails early when process $2 died.
wait_for() {
  local what=$1 pid=$2 deadline=$((SECONDS + WAIT_SECONDS))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then echo "  $what: the process exited" >&2; return 1; fi
    if [ $SECONDS -ge $deadline ]; then echo "  $what: not within ${WAIT_SECONDS}s" >&2; return 1; fi
    sleep 0.5
  done
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

echo "promtool:   $("$PROMTOOL" --version 2>&1 | head -1)"
echo "prometheus: $("$PROMETHEUS" --version 2>&1 | head -1)"
echo "engine:     $BIN"

# ------------------------------------------------------------------------------------ (a) rules
begin "(a) promtool check rules $ALERTS"
rule_count=0
if "$PROMTOOL" check rules "$ALERTS" >"$work/check-rules.log" 2>&1; then
  rule_count=$(grep -oE '[0-9]+ rules found' "$work/check-rules.log" | awk '{s+=$1} END {print s+0}')
  show "$work/check-rules.log"
  ok "alert rules parse ($rule_count rules)"
else
  show "$work/check-rules.log"
  bad "promtool check rules $ALERTS"
fi

begin "(a) promtool check config $PROM_CONFIG (the compose stack's Prometheus)"
if "$PROMTOOL" check config "$PROM_CONFIG" >"$work/check-config.log" 2>&1; then
  show "$work/check-config.log" 8
  ok "compose Prometheus config"
else
  show "$work/check-config.log"
  bad "promtool check config $PROM_CONFIG"
fi

begin "(a) promtool test rules: each alert fires in its scenario and stays quiet otherwise"
# The tests compare the summary annotation only: the longer texts are dropped from a copy.
if python3 - "$ALERTS" "$work/alerts.summary.yml" >"$work/strip.log" 2>&1 <<'PY'
import sys, yaml
rules = yaml.safe_load(open(sys.argv[1]))
for group in rules["groups"]:
    for rule in group["rules"]:
        if "annotations" in rule:
            rule["annotations"] = {k: v for k, v in rule["annotations"].items() if k == "summary"}
yaml.safe_dump(rules, open(sys.argv[2], "w"), sort_keys=False)
PY
then
  cat >"$work/alerts.test.yml" <<'EOF'
rule_files: [alerts.summary.yml]
evaluation_interval: 1m
tests:
  - name: engine down (the other instance up), no absent alert
    interval: 1m
    input_series:
      - series: 'up{job="revenue-engine", instance="e1:9464"}'
        values: '1 1 0x10'
      - series: 'up{job="revenue-engine", instance="e2:9464"}'
        values: '1x12'
    alert_rule_test:
      - eval_time: 1m
        alertname: RevenueEngineDown
        exp_alerts: []
      - eval_time: 5m
        alertname: RevenueEngineDown
        exp_alerts:
          - exp_labels: {severity: critical, job: revenue-engine, instance: "e1:9464"}
            exp_annotations: {summary: "Revenue Engine instance e1:9464 is down"}
      - eval_time: 10m
        alertname: RevenueEngineAbsent
        exp_alerts: []

  - name: no scrape target at all
    interval: 1m
    input_series:
      - series: 'up{job="prometheus", instance="localhost:9090"}'
        values: '1x10'
    alert_rule_test:
      - eval_time: 8m
        alertname: RevenueEngineAbsent
        exp_alerts:
          - exp_labels: {severity: critical, job: revenue-engine}
            exp_annotations: {summary: "No Revenue Engine scrape target"}

  - name: no partitions in the whole group
    interval: 1m
    input_series:
      - series: 'revenue_engine_partitions_assigned{job="revenue-engine", instance="e1:9464"}'
        values: '0x40'
      - series: 'revenue_engine_partitions_assigned{job="revenue-engine", instance="e2:9464"}'
        values: '0x40'
      - series: 'up{job="revenue-engine", instance="e1:9464"}'
        values: '1x40'
      - series: 'up{job="revenue-engine", instance="e2:9464"}'
        values: '1x40'
    alert_rule_test:
      - eval_time: 5m
        alertname: RevenueEngineNoPartitionsAssigned
        exp_alerts: []
      - eval_time: 15m
        alertname: RevenueEngineNoPartitionsAssigned
        exp_alerts:
          - exp_labels: {severity: critical, job: revenue-engine}
            exp_annotations: {summary: "Revenue Engine consumer group has no input partitions assigned"}

  - name: one idle instance while the group works
    interval: 1m
    input_series:
      - series: 'revenue_engine_partitions_assigned{job="revenue-engine", instance="e1:9464"}'
        values: '8x40'
      - series: 'revenue_engine_partitions_assigned{job="revenue-engine", instance="e2:9464"}'
        values: '0x40'
      - series: 'up{job="revenue-engine", instance="e1:9464"}'
        values: '1x40'
      - series: 'up{job="revenue-engine", instance="e2:9464"}'
        values: '1x40'
    alert_rule_test:
      - eval_time: 35m
        alertname: RevenueEngineNoPartitionsAssigned
        exp_alerts: []
      - eval_time: 35m
        alertname: RevenueEngineInstanceIdle
        exp_alerts:
          - exp_labels: {severity: warning, job: revenue-engine, instance: "e2:9464"}
            exp_annotations: {summary: "Revenue Engine instance e2:9464 has no partitions"}

  - name: consumer lag growing on one topic only
    interval: 1m
    input_series:
      - series: 'revenue_engine_input_lag_messages{job="revenue-engine", instance="e1:9464", topic="events.behaviour"}'
        values: '20000+500x40'     # above the threshold and growing
      - series: 'revenue_engine_input_lag_messages{job="revenue-engine", instance="e1:9464", topic="events.transactions"}'
        values: '30000-100x40'     # above the threshold, shrinking
      - series: 'revenue_engine_input_lag_messages{job="revenue-engine", instance="e2:9464", topic="other"}'
        values: '100+10x40'        # growing, below the threshold
    alert_rule_test:
      - eval_time: 10m
        alertname: RevenueEngineConsumerLagGrowing
        exp_alerts: []
      - eval_time: 35m
        alertname: RevenueEngineConsumerLagGrowing
        exp_alerts:
          - exp_labels: {severity: warning, job: revenue-engine, topic: events.behaviour}
            exp_annotations: {summary: "Revenue Engine falls behind on events.behaviour"}

  - name: dead letters spiking for one reason (2 %), not for another (0.1 %)
    interval: 1m
    input_series:
      - series: 'revenue_engine_input_events_total{job="revenue-engine", instance="e1:9464", topic="events.behaviour"}'
        values: '0+6000x30'
      - series: 'revenue_engine_dead_letters_total{job="revenue-engine", instance="e1:9464", reason="invalid_json"}'
        values: '0+120x30'
      - series: 'revenue_engine_dead_letters_total{job="revenue-engine", instance="e1:9464", reason="missing_customer_id"}'
        values: '0+6x30'
    alert_rule_test:
      - eval_time: 15m
        alertname: RevenueEngineDeadLettersSpiking
        exp_alerts:
          - exp_labels: {severity: warning, job: revenue-engine, reason: invalid_json}
            exp_annotations: {summary: "Revenue Engine dead-letters events: invalid_json"}

  - name: restore stuck on one instance, finished on the other
    interval: 1m
    input_series:
      - series: 'revenue_engine_restore_partitions{job="revenue-engine", instance="e1:9464"}'
        values: '2x30'
      - series: 'revenue_engine_restore_partitions{job="revenue-engine", instance="e2:9464"}'
        values: '3 3 3 0x30'
    alert_rule_test:
      - eval_time: 10m
        alertname: RevenueEngineRestoreStuck
        exp_alerts: []
      - eval_time: 20m
        alertname: RevenueEngineRestoreStuck
        exp_alerts:
          - exp_labels: {severity: warning, job: revenue-engine, instance: "e1:9464"}
            exp_annotations: {summary: "Revenue Engine e1:9464 is restoring state for over 15 minutes"}

  - name: a live use case silent for the 6h window
    interval: 1m
    input_series:
      - series: 'revenue_engine_use_case_info{job="revenue-engine", instance="e1:9464", use_case="quiet", version="1", status="live"}'
        values: '1x600'            # live for 10 h, never acts: alert once live for 6 h
      - series: 'revenue_engine_actions_total{job="revenue-engine", instance="e1:9464", use_case="quiet", channel="email"}'
        values: '5x600'
      - series: 'revenue_engine_use_case_info{job="revenue-engine", instance="e1:9464", use_case="busy", version="2", status="live"}'
        values: '1x600'            # live and acting
      - series: 'revenue_engine_actions_total{job="revenue-engine", instance="e1:9464", use_case="busy", channel="crm"}'
        values: '0+1x600'
      - series: 'revenue_engine_use_case_info{job="revenue-engine", instance="e1:9464", use_case="fresh", version="1", status="live"}'
        values: '_x400 1x200'      # live only since 6h40m: not yet
      - series: 'revenue_engine_use_case_info{job="revenue-engine", instance="e1:9464", use_case="trial", version="1", status="shadow"}'
        values: '1x600'            # shadow: never
    alert_rule_test:
      - eval_time: 5h
        alertname: RevenueEngineLiveUseCaseSilent
        exp_alerts: []
      - eval_time: 8h
        alertname: RevenueEngineLiveUseCaseSilent
        exp_alerts:
          - exp_labels: {severity: warning, silence_window: 6h, job: revenue-engine, use_case: quiet}
            exp_annotations: {summary: "Live use case quiet sent no action for 6h"}

  - name: evaluation errors in one use case
    interval: 1m
    input_series:
      - series: 'revenue_engine_use_case_errors_total{job="revenue-engine", instance="e1:9464", use_case="bad"}'
        values: '0+3x30'
      - series: 'revenue_engine_use_case_errors_total{job="revenue-engine", instance="e1:9464", use_case="good"}'
        values: '0x30'
    alert_rule_test:
      - eval_time: 25m
        alertname: RevenueEngineUseCaseErrors
        exp_alerts:
          - exp_labels: {severity: warning, job: revenue-engine, use_case: bad}
            exp_annotations: {summary: "Use case bad fails at run time"}

  - name: use-case reload refused (applied reloads are fine)
    interval: 1m
    input_series:
      - series: 'revenue_engine_use_case_reloads_total{job="revenue-engine", instance="e1:9464", result="refused"}'
        values: '0 0 0 1x30'
      - series: 'revenue_engine_use_case_reloads_total{job="revenue-engine", instance="e2:9464", result="applied"}'
        values: '0+1x30'
    alert_rule_test:
      - eval_time: 2m
        alertname: RevenueEngineUseCaseReloadRefused
        exp_alerts: []
      - eval_time: 5m
        alertname: RevenueEngineUseCaseReloadRefused
        exp_alerts:
          - exp_labels: {severity: warning, job: revenue-engine, instance: "e1:9464"}
            exp_annotations: {summary: "Revenue Engine e1:9464 refused a use-case change"}
      - eval_time: 25m
        alertname: RevenueEngineUseCaseReloadRefused
        exp_alerts: []

  - name: a use case capped out (not one that still acts, has few cap suppressions, or only consent ones)
    interval: 1m
    input_series:
      - series: 'revenue_engine_policy_suppressed_total{job="revenue-engine", instance="e1:9464", use_case="capped", reason="cap"}'
        values: '0+1x120'          # 60 cap suppressions an hour
      - series: 'revenue_engine_actions_total{job="revenue-engine", instance="e1:9464", use_case="capped", channel="email"}'
        values: '5x120'            # acted before, nothing since
      - series: 'revenue_engine_policy_suppressed_total{job="revenue-engine", instance="e1:9464", use_case="busy", reason="cap"}'
        values: '0+1x120'          # capped often, but still acts (on another pod)
      - series: 'revenue_engine_actions_total{job="revenue-engine", instance="e2:9464", use_case="busy", channel="sms"}'
        values: '0+1x120'
      - series: 'revenue_engine_policy_suppressed_total{job="revenue-engine", instance="e1:9464", use_case="rare", reason="cap"}'
        values: '0x20 1 2 3 4 5x100'   # a few cap suppressions only
      - series: 'revenue_engine_policy_suppressed_total{job="revenue-engine", instance="e1:9464", use_case="optout", reason="consent"}'
        values: '0+5x120'          # suppressed for consent, not caps
    alert_rule_test:
      - eval_time: 20m
        alertname: RevenueEngineUseCaseCappedOut
        exp_alerts: []
      - eval_time: 90m
        alertname: RevenueEngineUseCaseCappedOut
        exp_alerts:
          - exp_labels: {severity: warning, job: revenue-engine, use_case: capped}
            exp_annotations: {summary: "Use case capped is capped out: no action for 1h, decisions suppressed by caps"}
EOF
  if (cd "$work" && "$PROMTOOL" test rules alerts.test.yml) >"$work/test-rules.log" 2>&1; then
    show "$work/test-rules.log" 5
    ok "alert unit tests ($(grep -c '^  - name:' "$work/alerts.test.yml") scenarios)"
  else
    show "$work/test-rules.log" 60
    bad "promtool test rules (alert scenarios)"
  fi
else
  show "$work/strip.log"
  bad "reading $ALERTS for the unit tests"
fi

# ------------------------------------------------------------------------------------ (b) dashboards
begin "(b) dashboards in $DASHBOARDS: JSON, structure, every PromQL expression parses"
# Writes: dashboard-rules.yml (one recording rule per expression, for promtool),
# dashboard-queries.jsonl (the expressions for the live Prometheus), dashboard-metrics.txt.
if python3 - "$DASHBOARDS" "$work" "$JOB" >"$work/dashboards.log" 2>&1 <<'PY'
import glob, json, os, re, sys

source, work, job = sys.argv[1:4]
files = sorted(glob.glob(os.path.join(source, "**", "*.json"), recursive=True)) if os.path.isdir(source) else [source]
if not files:
    sys.exit(f"no dashboard JSON under {source}")
TIME_VARS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h", "__range_s": "3600",
             "__range_ms": "3600000", "__interval_ms": "60000"}
VAR = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\$(\w+)|\[\[(\w+)(?::\w+)?\]\]")
errors, rules, queries, metrics = [], [], [], set()

def fill(expr, values, where):
    def one(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in TIME_VARS:
            return TIME_VARS[name]
        if name in values:
            return values[name]
        errors.append(f"{where}: unknown variable ${name}")
        return ".*"
    return VAR.sub(one, expr)

for path in files:
    name = os.path.relpath(path)
    try:
        dash = json.load(open(path, encoding="utf-8"))
    except (OSError, ValueError) as e:
        errors.append(f"{name}: not valid JSON: {e}")
        continue
    for key in ("uid", "title", "panels", "schemaVersion"):
        if key not in dash:
            errors.append(f"{name}: no `{key}`")
    if len(dash.get("uid", "")) > 40:
        errors.append(f"{name}: uid longer than 40 characters")
    variables = [v.get("name") for v in dash.get("templating", {}).get("list", [])]
    parse_values = {v: ".*" for v in variables if v}
    live_values = dict(parse_values, job=job)
    slug = re.sub(r"\W", "_", dash.get("uid", os.path.basename(path)))

    panels = []
    for p in dash.get("panels", []):
        panels.append(p)
        panels.extend(p.get("panels", []))          # panels inside collapsed rows
    ids, boxes = set(), []
    for p in panels:
        pid, title, ptype = p.get("id"), p.get("title", "?"), p.get("type")
        where = f"{name}: panel {pid} \"{title}\""
        if not isinstance(pid, int) or pid in ids:
            errors.append(f"{where}: missing or duplicate id")
        ids.add(pid)
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "hwxy") or g.get("x", 0) + g.get("w", 0) > 24:
            errors.append(f"{where}: bad gridPos {g}")
        elif ptype != "row" or not p.get("collapsed"):
            for other_where, o in boxes:
                if g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"] and g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"]:
                    errors.append(f"{where}: overlaps {other_where}")
            boxes.append((where, g))
        if ptype in ("row", "text"):
            continue
        targets = p.get("targets") or []
        if not targets:
            errors.append(f"{where}: no queries")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            errors.append(f"{where}: duplicate refId")
        for t in targets:
            expr = (t.get("expr") or "").strip()
            if not expr:
                errors.append(f"{where} query {t.get('refId')}: no expr")
                continue
            record = f"dashboard:{slug}:panel_{pid}_{t.get('refId')}"
            rules.append({"record": record, "expr": fill(expr, parse_values, where)})
            queries.append({"record": record, "title": title, "expr": fill(expr, live_values, where)})
            metrics.update(re.findall(r"\brevenue_engine_[A-Za-z0-9_]+", expr))
    for i, a in enumerate(dash.get("annotations", {}).get("list", [])):
        expr = (a.get("expr") or "").strip()
        if expr:
            where = f"{name}: annotation \"{a.get('name')}\""
            record = f"dashboard:{slug}:annotation_{i}"
            rules.append({"record": record, "expr": fill(expr, parse_values, where)})
            queries.append({"record": record, "title": "annotation " + a.get("name", ""), "expr": fill(expr, live_values, where)})
            metrics.update(re.findall(r"\brevenue_engine_[A-Za-z0-9_]+", expr))
    print(f"{name}: {len(panels)} panels, {sum(1 for q in queries if q['record'].startswith(f'dashboard:{slug}:'))} expressions")

json.dump({"groups": [{"name": "dashboard-expressions", "rules": rules}]},
          open(os.path.join(work, "dashboard-rules.yml"), "w"), indent=1)
with open(os.path.join(work, "dashboard-queries.jsonl"), "w") as out:
    for q in queries:
        out.write(json.dumps(q) + "\n")
open(os.path.join(work, "dashboard-metrics.txt"), "w").write("".join(m + "\n" for m in sorted(metrics)))
for e in errors:
    print("error:", e)
sys.exit(1 if errors else 0)
PY
then
  show "$work/dashboards.log"
  ok "dashboard JSON and structure"
  if "$PROMTOOL" check rules "$work/dashboard-rules.yml" >"$work/dashboard-promtool.log" 2>&1; then
    ok "dashboard expressions parse ($(grep -c '"record"' "$work/dashboard-rules.yml"))"
  else
    # name the panels of the expressions promtool refused
    grep -oE 'dashboard:[A-Za-z0-9_]+:[a-z]+_[0-9]+(_[A-Z]+)?' "$work/dashboard-promtool.log" | sort -u | while read -r record; do
      python3 -c 'import json,sys
for l in open(sys.argv[1]):
    q=json.loads(l)
    if q["record"]==sys.argv[2]: print("    %s: \"%s\": %s" % (q["record"], q["title"], q["expr"]))' "$work/dashboard-queries.jsonl" "$record"
    done
    show "$work/dashboard-promtool.log"
    bad "dashboard expressions parse (promtool check rules)"
  fi
else
  show "$work/dashboards.log"
  bad "dashboard JSON and structure"
fi

# ------------------------------------------------------------------------------------ (c) the engine
begin "(c) revenue-engine demo --keep-running, promtool check metrics on its /metrics"
engine_addr=""
demo_pid=""
if [ ! -x "$BIN" ]; then
  bad "no engine binary at $BIN (set REVENUE_ENGINE_BIN, or build: cargo build --release -p revenue-cli)"
else
  "$BIN" demo --keep-running --http 127.0.0.1:0 --events "$DEMO_EVENTS" --rate "$DEMO_RATE" \
    </dev/null >"$work/demo.log" 2>&1 &
  demo_pid=$!
  pids+=("$demo_pid")
  if wait_for "demo metrics address" "$demo_pid" grep -q 'metrics: http://' "$work/demo.log"; then
    engine_addr=$(grep -oE 'metrics: http://[^/ ]+' "$work/demo.log" | head -1 | sed 's|metrics: http://||')
    echo "  demo serves http://$engine_addr/metrics (pid $demo_pid)"
  fi
  if [ -z "$engine_addr" ] || ! wait_for "/metrics" "$demo_pid" curl -fsS -m 5 -o /dev/null "http://$engine_addr/metrics"; then
    show "$work/demo.log"
    bad "demo /metrics did not answer"
    engine_addr=""
  fi
fi

# ------------------------------------------------------------------------------------ (d) Prometheus
# Started right away, so that it scrapes the demo while events flow.
prom_url=""
prom_pid=""
if [ -n "$engine_addr" ]; then
  cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - "$ALERTS_ABS"
scrape_configs:
  - job_name: $JOB
    scrape_interval: 1s
    static_configs:
      - targets: ["$engine_addr"]
EOF
  for _ in 1 2 3; do
    port=$(free_port)
    "$PROMETHEUS" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
      --web.listen-address="127.0.0.1:$port" --log.level=warn </dev/null >"$work/prometheus.log" 2>&1 &
    prom_pid=$!
    pids+=("$prom_pid")
    if wait_for "Prometheus /-/ready" "$prom_pid" curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$port/-/ready"; then
      prom_url="http://127.0.0.1:$port"
      echo "  Prometheus at $prom_url (pid $prom_pid)"
      break
    fi
    grep -q 'address already in use' "$work/prometheus.log" || break   # retry on a port race only
  done
fi

if [ -n "$engine_addr" ]; then
  # the demo prints its results table when the run is over; the metrics stay up (--keep-running)
  if wait_for "demo run" "$demo_pid" grep -q 'keeps running' "$work/demo.log"; then
    grep -E '^Results:|^Dead letters:' "$work/demo.log" | sed 's/^/  demo: /'
  else
    warn "the demo run did not finish within ${WAIT_SECONDS}s; checking the metrics as they are"
  fi
  curl -fsS -m 10 "http://$engine_addr/metrics" >"$work/metrics.txt" || bad "scraping http://$engine_addr/metrics"
  echo "  scraped $(grep -vc '^#' "$work/metrics.txt") samples, $(grep -c '^# TYPE' "$work/metrics.txt") metric families"
  # promtool check metrics: exit 0 clean, 3 lint problems only (naming, help texts), 1 (or
  # anything else) the exposition cannot be parsed. Lint problems are warnings: they are
  # conventions, and a parse error is what breaks a scrape.
  set +e
  "$PROMTOOL" check metrics <"$work/metrics.txt" >"$work/check-metrics.log" 2>&1
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    ok "promtool check metrics: no problems"
  elif [ "$rc" -eq 3 ]; then
    show "$work/check-metrics.log"
    ok "promtool check metrics: parses"
    warn "promtool check metrics: $(wc -l <"$work/check-metrics.log") lint remarks (above)"
  else
    show "$work/check-metrics.log"
    bad "promtool check metrics: the exposition does not parse (exit $rc)"
  fi

  # every revenue_engine_* name used by the dashboards and the alerts is exported
  begin "(c) metric names used by the dashboards and alerts are exported"
  sed -e '/^#/d' -e 's/[{ ].*//' "$work/metrics.txt" | sort -u >"$work/exported.txt"
  { cat "$work/dashboard-metrics.txt" 2>/dev/null; grep -oE '\brevenue_engine_[A-Za-z0-9_]+' "$ALERTS" || true; } | sort -u >"$work/used.txt"
  missing=()
  allowed=()
  while read -r name; do
    grep -qxF "$name" "$work/exported.txt" && continue
    base=$(sed -E 's/_(bucket|sum|count)$//' <<<"$name")
    if [[ " $ALLOW_MISSING_METRICS " == *" $name "* || " $ALLOW_MISSING_METRICS " == *" $base "* ]]; then
      allowed+=("$name")
    else
      missing+=("$name")
    fi
  done <"$work/used.txt"
  for name in $ALLOW_MISSING_METRICS; do
    if grep -qE "^${name}(_bucket|_sum|_count)?\$" "$work/exported.txt"; then
      echo "  note: $name is exported now (its ALLOW_MISSING_METRICS entry is no longer needed for this binary)"
    fi
  done
  [ "${#allowed[@]}" -eq 0 ] || warn "not in the demo's /metrics (allowed): ${allowed[*]}"
  if [ "${#missing[@]}" -eq 0 ]; then
    ok "all $(wc -l <"$work/used.txt") metric names used are exported (or allowed)"
  else
    bad "used by the dashboards/alerts but not exported: ${missing[*]}"
  fi

  # the contact-policy and measurement families must be in the scrape
  begin "(c) contact-policy and measurement metric families are exported"
  missing_families=()
  for family in $REQUIRED_FAMILIES; do
    base=${family%_total}
    grep -qE "^(# TYPE (${family}|${base}) |${family}(\{| ))" "$work/metrics.txt" || missing_families+=("$family")
  done
  if [ "${#missing_families[@]}" -eq 0 ]; then
    ok "all $(wc -w <<<"$REQUIRED_FAMILIES") contact-policy and measurement families are exported"
  else
    for family in "${missing_families[@]}"; do
      echo "  missing metric family: $family" >&2
    done
    bad "metric families missing from the demo's /metrics: ${missing_families[*]} (not exported by this engine binary, or the demo never exercised them: a labelled family has no series before its first increment)"
  fi
fi

if [ -n "$prom_url" ]; then
  begin "(d) Prometheus: scrape, rules loaded and evaluated, dashboard queries run"
  has_events() {
    curl -fsS -m 5 "$prom_url/api/v1/query" --data-urlencode "query=revenue_engine_input_events_total" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["status"]=="success" and d["data"]["result"] else 1)'
  }
  if wait_for "query revenue_engine_input_events_total" "$prom_pid" has_events; then
    curl -fsS -m 5 "$prom_url/api/v1/query" --data-urlencode 'query=sum by (topic) (revenue_engine_input_events_total)' |
      python3 -c 'import json,sys
for r in json.load(sys.stdin)["data"]["result"]: print("  %-22s %s events" % (r["metric"].get("topic"), r["value"][1]))'
    ok "Prometheus scrapes the engine (query API returns revenue_engine_input_events_total)"
  else
    show "$work/prometheus.log"
    bad "Prometheus query revenue_engine_input_events_total stayed empty"
  fi

  # every rule of the file is loaded, has been evaluated, and evaluates without error
  rules_ok() {
    curl -fsS -m 5 "$prom_url/api/v1/rules" >"$work/rules.json" &&
      python3 - "$work/rules.json" "$rule_count" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))["data"]["groups"]
rules = [r for g in data for r in g["rules"]]
if len(rules) != int(sys.argv[2]) or any(r.get("health") == "unknown" for r in rules):
    sys.exit(1)          # not loaded or not evaluated yet
PY
  }
  if wait_for "rules evaluated" "$prom_pid" rules_ok; then
    if python3 - "$work/rules.json" <<'PY'
import json, sys
groups = json.load(open(sys.argv[1]))["data"]["groups"]
bad = 0
for g in groups:
    for r in g["rules"]:
        state = r.get("state", "") if r["type"] == "alerting" else "recording"
        print("  %-36s %-9s %-8s %s" % (r["name"], r["health"], state, r.get("lastError", "")))
        bad += r["health"] != "ok"
sys.exit(1 if bad else 0)
PY
    then
      ok "Prometheus loaded and evaluated all $rule_count rules without error"
    else
      bad "a rule fails to evaluate in Prometheus (health err above)"
    fi
  else
    show "$work/prometheus.log"
    bad "Prometheus did not load/evaluate the $rule_count rules of $ALERTS"
  fi

  # every dashboard query runs (job=$JOB, instance=.*); queries without data are listed
  if [ -s "$work/dashboard-queries.jsonl" ]; then
    if python3 - "$work/dashboard-queries.jsonl" "$prom_url" <<'PY'
import json, sys, urllib.parse, urllib.request
errors, empty, total = 0, [], 0
for line in open(sys.argv[1]):
    q = json.loads(line)
    total += 1
    body = urllib.parse.urlencode({"query": q["expr"]}).encode()
    try:
        with urllib.request.urlopen(sys.argv[2] + "/api/v1/query", body, timeout=10) as r:
            d = json.load(r)
    except urllib.error.HTTPError as e:
        d = json.load(e)
    if d.get("status") != "success":
        errors += 1
        print("  error: %s \"%s\": %s" % (q["record"], q["title"], d.get("error")))
    elif not d["data"]["result"]:
        empty.append("%s (%s)" % (q["title"], q["record"].rsplit("_", 1)[-1]))
print("  %d of %d dashboard queries return data now" % (total - errors - len(empty), total))
if empty:
    print("  no data (yet) in: " + "; ".join(sorted(set(empty))))
sys.exit(1 if errors else 0)
PY
    then
      ok "every dashboard query runs in Prometheus"
    else
      bad "dashboard queries fail in Prometheus"
    fi
  fi
elif [ -n "$engine_addr" ]; then
  show "$work/prometheus.log"
  bad "Prometheus did not start"
fi

# ------------------------------------------------------------------------------------ summary
echo
echo "== summary ($SECONDS s; $("$PROMTOOL" --version 2>&1 | head -1 | awk '{print $1, $3}'))"
printf '  %s\n' "${summary[@]}"
echo "monitoring: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
