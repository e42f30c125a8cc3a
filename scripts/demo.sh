#!/usr/bin/env bash
# The README's first command: builds Revenue Engine and runs its one-command demo — an embedded
# Kafka broker, synthetic B2B events, the engine with the reference use cases, a results table.
# No external service is needed. Extra arguments go to `revenue-engine demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
cargo run --release -q -p revenue-cli -- demo "$@"
