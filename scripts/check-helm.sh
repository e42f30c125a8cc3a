#!/usr/bin/env bash
# Offline checks of the Helm chart helm/revenue-engine: lint and render with Helm's own library
# (PyPI helm-python-sdk, no helm binary, no cluster), Kubernetes schema validation
# (kubernetes-validate), the chart's own promises and the freshness of its README.
# See scripts/check_helm.py. Usage:
#   scripts/check-helm.sh                 # all checks; exit 1 on any problem
#   scripts/check-helm.sh --write-readme  # regenerate helm/revenue-engine/README.md's values table
# The Python tools live in a venv under $HOME/.cache/revenue-engine/helm-venv, created on the first
# run (python3-venv is installed with apt-get when missing) and reused while its pins match.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the two tools and everything they pull in (helm-python-sdk 0.2.2 bundles Helm v4.2.3).
REQUIREMENTS="helm-python-sdk==0.2.2
kubernetes-validate==1.37.0
PyYAML==6.0.3
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
referencing==0.37.0
rpds-py==2026.9.1
attrs==26.1.0
importlib_resources==7.1.0
packaging==26.3
typing_extensions==4.16.0"

VENV="${REVENUE_ENGINE_HELM_VENV:-$HOME/.cache/revenue-engine/helm-venv}"
STAMP="$VENV/.revenue-engine-requirements"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

make_venv() {
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    rm -rf "$VENV"
    echo "== python3 -m venv failed: installing python3-venv with apt-get"
    local minor
    minor=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv \
      || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "python${minor}-venv"
    python3 -m venv "$VENV"
  fi
}

if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$REQUIREMENTS" ] \
  || ! "$VENV/bin/python" -c 'import helm_python, kubernetes_validate, yaml' >/dev/null 2>&1; then
  echo "== setting up $VENV"
  [ -x "$VENV/bin/python" ] || make_venv
  mapfile -t pins <<<"$REQUIREMENTS"
  pip_install() { "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "${pins[@]}"; }
  # a broken venv (e.g. its python was removed) is made anew once
  pip_install || { make_venv; pip_install; }
  "$VENV/bin/python" -c 'import helm_python, kubernetes_validate, yaml'
  printf '%s' "$REQUIREMENTS" >"$STAMP"
fi

exec "$VENV/bin/python" scripts/check_helm.py "$@"
