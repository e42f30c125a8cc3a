#!/usr/bin/env bash
# The README's test command: installs what the build needs, then every test of the workspace in
# release mode (the build the engine ships, and one build of the C/C++ dependencies, not two).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
cargo test --workspace --release "$@"
