#!/usr/bin/env bash
# Installs the Debian packages the build and tests need (chromium: the report screenshot),
# only when missing (apt-get update first).
set -euo pipefail
packages=(libclang-dev python3 g++ make zlib1g-dev chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
