#!/usr/bin/env bash
# Parse + all features against parse alone, on the same generated log, in one run.
#
#   bench/features.sh [LINES] [RUNS]
#
# Trains a model on the first 100k lines (so vocabularies and profiles are fitted), then
# times `anomalog features --model M --stats` RUNS times and prints the medians. It reads
# the log twice: parse alone, then parse + features with each record featurized from
# the line buffer as it is parsed (as `watch` does); the feature stage is the
# difference.
#
# Environment: BIN (an anomalog binary to use instead of building one, e.g. to compare
# two builds in the same period), BENCH_DIR (where the log and model are kept; reused
# when present).
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
runs=${2:-5}
work=${BENCH_DIR:-$(mktemp -d)}
mkdir -p "$work"
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet -p anomalog
  BIN=${CARGO_TARGET_DIR:-target}/release/anomalog
fi
bin=$BIN
log="$work/features.log"
[ -s "$log" ] || "$bin" simulate --lines "$lines" --seed 7 --out "$log" >/dev/null
[ -s "$work/train.log" ] || head -n 100000 "$log" > "$work/train.log"
[ -s "$work/m.model" ] || "$bin" train --format combined "$work/train.log" -o "$work/m.model" >/dev/null
# Wall-clock rates swing with the load of a shared machine: print it with the medians.
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
for _ in $(seq "$runs"); do
  "$bin" features --format combined --model "$work/m.model" --stats "$log"
done | awk '
  /^parse / { p[++np] = $4 } /^features .* s / { f[++nf] = $4 } /^parse\+features/ { t[++nt] = $4 }
  /^clients/ { clients = $0 }
  function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x } return a[int((n + 1) / 2)] }
  END {
    mp = median(p, np); mf = median(f, nf); mt = median(t, nt)
    printf "medians of %d runs on '"$lines"' lines\n", np
    printf "parse alone        %10.0f records/s\n", mp
    printf "features alone     %10.0f records/s\n", mf
    printf "parse + features   %10.0f records/s  (%.2fx the time of parse alone)\n", mt, mp / mt
    print clients
  }'
echo "load average     before: $load_before  after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
