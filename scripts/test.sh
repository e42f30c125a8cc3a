#!/usr/bin/env bash
# The README's test command: installs what the build needs, then every test of the workspace in
# release mode (the build the engine ships, and one build of the C/C++ dependencies, not two).
# Ends with one line totalling every test binary's result.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --release "$@" 2>&1 | tee "$log" || status=$?
passed=$(grep -aoE '^test result: .* ([0-9]+) passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -aoE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
