#!/usr/bin/env bash
# Screenshot an anomalog HTML report with headless Chromium, to review it as a person would.
#
# usage: bench/screenshot_report.sh REPORT.html OUT.png [WIDTH,HEIGHT]
#   e.g. cargo run -p anomalog-eval --example report_demo -- /tmp/demo &&
#        bench/screenshot_report.sh /tmp/demo/report.html /tmp/demo/report.png
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]" >&2
  exit 2
fi
report=$1
out=$2
size=${3:-1400,3000}
if [[ ! -f $report ]]; then
  echo "$0: $report: no such file" >&2
  exit 1
fi

chromium=""
for candidate in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
  if [[ -x $candidate ]]; then chromium=$candidate; break; fi
done
if [[ -z $chromium ]]; then
  echo "$0: installing chromium (Debian package)" >&2
  apt-get update && apt-get install -y chromium
  chromium=/usr/bin/chromium
fi

report_abs=$(cd "$(dirname "$report")" && pwd)/$(basename "$report")
out_dir=$(cd "$(dirname "$out")" && pwd)
out_abs=$out_dir/$(basename "$out")
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# The report needs no network; these flags keep Chromium from trying anyway.
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --hide-scrollbars --user-data-dir="$profile" --window-size="$size" \
  --screenshot="$out_abs" "file://$report_abs" >/dev/null 2>&1 || {
    echo "$0: chromium failed" >&2
    exit 1
  }
[[ -s $out_abs ]] || { echo "$0: no screenshot written" >&2; exit 1; }
echo "$out_abs"
