#!/usr/bin/env bash
# Parse throughput of `anomalog parse --stats` against `wc -l` on the same file, in one run.
#
#   bench/parse.sh [LINES] [RUNS]
#
# Generates a combined log with request times (`anomalog simulate`), a JSON log from it,
# then times each command RUNS times and prints medians, lines/s, MB/s, the ratio to
# `wc -l`, and the peak memory at 1x and 10x the input size.
#
# Environment: BIN (an anomalog binary to use instead of building one), BENCH_DIR
# (where the logs are kept; reused when present).
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

log="$work/bench.log"
json="$work/bench.jsonl"
big="$work/bench10.log"
if [ ! -s "$log" ]; then
  "$bin" simulate --lines "$lines" --seed 7 --out "$log" >/dev/null
fi
[ -s "$json" ] || "$bin" parse --format combined --output jsonl "$log" > "$json"
if [ ! -s "$big" ]; then
  for _ in $(seq 10); do cat "$log"; done > "$big"
fi

# Median wall seconds of a command over $runs runs.
median() {
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

# Peak resident memory in MB of one run.
peak_mb() {
  /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -n 1 | awk '{printf "%.1f", $1/1024}'
}

bytes=$(stat -c %s "$log")
jbytes=$(stat -c %s "$json")
n=$(wc -l < "$log")
echo "input: $n lines, $((bytes / 1000000)) MB combined; $((jbytes / 1000000)) MB json; $runs runs, medians"
wc_s=$(median wc -l "$log")
comb_s=$(median "$bin" parse --stats --format combined "$log")
auto_s=$(median "$bin" parse --stats "$log")
json_s=$(median "$bin" parse --stats --format json "$json")
wcj_s=$(median wc -l "$json")

row() { # name seconds bytes reference_seconds
  awk -v name="$1" -v s="$2" -v b="$3" -v n="$n" -v ref="$4" 'BEGIN {
    printf "%-26s %8.3f s %12.0f lines/s %8.1f MB/s   %5.2fx the time of wc -l\n", name, s, n/s, b/s/1e6, s/ref }'
}
row "wc -l (combined)" "$wc_s" "$bytes" "$wc_s"
row "parse --format combined" "$comb_s" "$bytes" "$wc_s"
row "parse --format auto" "$auto_s" "$bytes" "$wc_s"
row "wc -l (json)" "$wcj_s" "$jbytes" "$wcj_s"
row "parse --format json" "$json_s" "$jbytes" "$wcj_s"
echo "peak memory: $(peak_mb "$bin" parse --stats --format combined "$log") MB at $n lines," \
  "$(peak_mb "$bin" parse --stats --format combined "$big") MB at $((n * 10)) lines"
