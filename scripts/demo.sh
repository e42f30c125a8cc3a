#!/usr/bin/env bash
# The README's first command: builds Revenue Engine and back-tests the shipped use cases on the
# standard workload (no external services). Until the streaming engine's embedded demo lands,
# this is the main job a newcomer can run end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release -q -p revenue-engine
bin="$CARGO_TARGET_DIR/release/revenue-engine"
work="$CARGO_TARGET_DIR/demo"
mkdir -p "$work"

echo "== 1. validate the use-case directories"
"$bin" validate usecases/reference
"$bin" validate usecases/benchmark

echo
echo "== 2. record events: the standard benchmark workload, 20,000 events over 2,000 customers"
python3 ../shared/bench/gen_events.py --no-produce --dump "$work/events-20k.jsonl" -n 20000 --customers 2000 >/dev/null
echo "wrote $work/events-20k.jsonl"

echo
echo "== 3. back-test: replay the benchmark use case over them"
"$bin" replay --use-cases usecases/benchmark --events "$work/events-20k.jsonl" --out "$work/actions.jsonl"

echo
echo "first action:"
head -n 1 "$work/actions.jsonl"
