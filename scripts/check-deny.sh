#!/usr/bin/env bash
# Licences, bans and sources of every dependency with cargo-deny (deny.toml). Installs the pinned
# cargo-deny once (cargo install, a few minutes on 2 cores) into ~/.cargo/bin.
# Advisories need the RustSec database from the network and are not checked here.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q "$version"; then
  echo "installing cargo-deny $version"
  cargo install --locked cargo-deny --version "$version" --target-dir "${CARGO_TARGET_DIR:-target}/cargo-deny"
fi
cargo deny check licenses bans sources
