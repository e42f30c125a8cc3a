#!/usr/bin/env bash
# The README's test command: installs what the build needs, then every test of the workspace in
# release mode (the build the engine ships, and one build of the C/C++ dependencies, not two).
# Ends with one line totalling every test binary's result.
#
#   scripts/test.sh           every test: unit, property, broker (librdkafka's mock cluster),
#                             Tansu, the crash suite, Prometheus, headless Chromium
#   scripts/test.sh --fast    the tier without any broker or external process: the pure crates
#                             (expr, models, core), use-case loading, replay, the reference
#                             model's differential tests (2,500 + 1,000 cases), the tools' unit
#                             tests and the engine's unit tests (wire formats, config, store)
# Any other arguments are passed to `cargo test` (e.g. a test name filter after `--`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
scope=(--workspace)
if [ "${1:-}" = "--fast" ]; then
  shift
  # the engine's integration tests and the CLI's run a broker: the engine's unit tests only
  scope=(-p revenue-expr -p revenue-models -p revenue-core -p revenue-usecases -p revenue-replay -p revenue-reference -p revenue-tools --lib --tests)
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --release "${scope[@]}" "$@" 2>&1 | tee "$log" || status=$?
if [ "$status" -eq 0 ] && [ "${scope[0]}" != "--workspace" ]; then
  cargo test --release -p revenue-engine --lib "$@" 2>&1 | tee -a "$log" || status=$?
fi
passed=$(grep -aoE '^test result: .* ([0-9]+) passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -aoE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
