#!/usr/bin/env bash
# Behaviour check for refactors: runs two builds of `revenue-engine` over the same inputs and
# compares what they write byte for byte — actions, decision records and the replay summary
# (without its timing fields) — plus the synthetic generator's output and validate's messages.
#
#   scripts/replay-identical.sh OLD_BINARY NEW_BINARY [WORKDIR]
#
# Inputs: the benchmark use cases over the committed 20k workload and, when ../shared/bench is
# there, the standard 1M workload; the reference use cases over synthetic B2B data (default
# seed), with and without --live-only, and over a planted-uplift data set.
# Exit 0 when every output is identical, 1 otherwise (the differing files are listed).
set -euo pipefail
cd "$(dirname "$0")/.."
old=$(realpath "$1")
new=$(realpath "$2")
work=${3:-$(mktemp -d)}
mkdir -p "$work"
echo "work directory: $work"

gzip -dc services/testkit/data/bench-20000-2000.jsonl.gz >"$work/bench-20k.jsonl"
inputs=("benchmark:bench-20k.jsonl:")
if [ -f ../shared/bench/gen_events.py ]; then
  python3 ../shared/bench/gen_events.py --no-produce --dump "$work/bench-1m.jsonl" -n 1000000 --customers 100000 >/dev/null
  inputs+=("benchmark:bench-1m.jsonl:")
fi
"$old" synthetic --out "$work/synthetic.jsonl" >/dev/null
"$old" synthetic --out "$work/planted.jsonl" --plant-uplift 0.05 >/dev/null
inputs+=("reference:synthetic.jsonl:" "reference:synthetic.jsonl:--live-only" "reference:planted.jsonl:")

differ=0
same() {
  if cmp -s "$1" "$2"; then echo "  identical: $(basename "$1") ($(wc -c <"$1") bytes)"; else echo "  DIFFERENT: $1 $2"; differ=1; fi
}
strip_timing() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("seconds",None); d.pop("events_per_second",None); print(json.dumps(d,sort_keys=True,indent=1))' "$1" >"$1.stable"
}

for build in old new; do
  "${!build}" synthetic --out "$work/$build.synthetic-check.jsonl" --seed 11 --events 5000 --companies 300 >/dev/null
done
echo "synthetic --seed 11"
same "$work/old.synthetic-check.jsonl" "$work/new.synthetic-check.jsonl"

# validate's findings (every message with file, line, key and hint) on a directory of planted mistakes
for build in old new; do
  "${!build}" validate services/usecases/tests/fixtures/planted >"$work/$build.validate.txt" 2>&1 || true
done
echo "validate services/usecases/tests/fixtures/planted"
same "$work/old.validate.txt" "$work/new.validate.txt"

n=0
for spec in "${inputs[@]}"; do
  IFS=: read -r dir events flags <<<"$spec"
  n=$((n + 1))
  echo "replay usecases/$dir over $events ${flags}"
  for build in old new; do
    # shellcheck disable=SC2086 # flags is one optional word
    "${!build}" replay --use-cases "usecases/$dir" --events "$work/$events" --out "$work/$build.$n.actions.jsonl" \
      --decisions "$work/$build.$n.decisions.jsonl" --summary-json "$work/$build.$n.summary.json" -q $flags \
      >"$work/$build.$n.stdout" 2>&1
    strip_timing "$work/$build.$n.summary.json"
  done
  for kind in actions.jsonl decisions.jsonl summary.json.stable; do
    same "$work/old.$n.$kind" "$work/new.$n.$kind"
  done
done
[ "$differ" -eq 0 ] && echo "all outputs identical" || echo "outputs differ"
exit "$differ"
