#!/usr/bin/env bash
# The test command of the README: every test of the workspace, in release mode (the same
# build the engine ships, and one build of the C++ dependencies instead of two).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --release "$@"
