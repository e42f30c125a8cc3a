#!/usr/bin/env bash
# Screenshots an HTML report (revenue-engine report) in headless Chromium, 1280 px wide.
# Usage: scripts/report-screenshot.sh <report.html> <out.png> [height, default 2400]
set -euo pipefail
if [ "$#" -lt 2 ]; then
  echo "usage: $0 <report.html> <out.png> [height]" >&2
  exit 2
fi
html=$1
png=$2
height=${3:-2400}
if [ ! -f "$html" ]; then
  echo "error: no such report: $html" >&2
  exit 2
fi
browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
  echo "error: chromium is not installed (hint: run scripts/install-system-deps.sh, or apt-get install chromium)" >&2
  exit 3
fi
abs_html=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
mkdir -p "$(dirname "$png")"
abs_png=$(cd "$(dirname "$png")" && pwd)/$(basename "$png")
# a fresh profile each run: no state from an earlier run, no profile lock held by another one
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
rm -f "$abs_png"
# the page loads nothing from the network; the flags keep Chromium itself from trying
"$browser" --headless --no-sandbox --disable-gpu --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$profile" --window-size=1280,"$height" \
  --screenshot="$abs_png" "file://$abs_html" >"$profile/chromium.log" 2>&1 || {
  echo "error: chromium failed on $abs_html:" >&2
  tail -20 "$profile/chromium.log" >&2
  exit 1
}
if [ ! -s "$abs_png" ]; then
  echo "error: chromium wrote no screenshot to $abs_png:" >&2
  tail -20 "$profile/chromium.log" >&2
  exit 1
fi
echo "wrote $abs_png"
