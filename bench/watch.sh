#!/usr/bin/env bash
# Live throughput, alert latency and memory of `anomalog watch`, on loopback.
#
#   bench/watch.sh                 # rates 25k..300k lines/s, 20 s each, 1 run
#   RATES="50000" SECS=30 RUNS=3 bench/watch.sh
#
# Simulates a training log and trains a model, then simulates the template: one hour of
# a shop at SITE_RPS requests/s (default 1000, so 3.6M lines). For each rate R, a fresh
# `anomalog watch --from-beginning` follows an empty file with a webhook sink and the
# SQLite store, and the generator (crates/watch/examples/watch_bench.rs) appends the
# template to it at R lines/s in 10 ms batches for SECS seconds, replacing about 20 lines
# a second by SQL injections from unique clients that carry their write time. It
# receives the webhook itself and reports:
#
#   read/s     lines the daemon read per second over the second half of the run
#   lag        the most lines written but not yet read over the second half, in
#              seconds of traffic; "kept up" when under 0.5 s and the daemon
#              finished reading within 1 s of the generator stopping
#   p50/p99    write-to-webhook latency of the injections' `opened` alerts
#   rss        resident memory of the daemon at the end (peak in brackets)
#   cpu/line   daemon CPU time (all threads) per line
#
# Finally the whole template (one hour of that site) is replayed at HOUR_RATE lines/s and
# the daemon's memory is reported after it (HOUR_RATE=0 skips it). Each rate is run RUNS
# times; the table shows medians. With BASELINE=/path/to/another/anomalog, every step (the
# hour too) also runs that binary (same model, same traffic) and the table shows both. The
# load average of the machine is printed at the start and the end: on shared cores,
# compare binaries within one run. Work files go to BENCH_DIR (default: a temporary directory).
# WATCH_ARGS adds arguments to every `anomalog watch` (`--config FILE`, say).
set -euo pipefail
cd "$(dirname "$0")/.."
rates=${RATES:-"25000 50000 100000 150000 200000 300000"}
secs=${SECS:-20}
runs=${RUNS:-1}
site_rps=${SITE_RPS:-1000}
hour_rate=${HOUR_RATE:-50000}
work=${BENCH_DIR:-$(mktemp -d)}
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$work"

cargo build --release --quiet -p anomalog
cargo build --release --quiet -p anomalog-watch --example watch_bench
bin="$target/release/anomalog"
gen="$target/release/examples/watch_bench"

hour_lines=$((site_rps * 3600))
if [ ! -s "$work/m.model" ]; then
  # Training traffic at the same request rate as the template.
  "$bin" simulate --lines $((site_rps * 360)) --hours 0.1 --seed 11 --out "$work/train.log" >/dev/null
  "$bin" train "$work/train.log" -o "$work/m.model" >/dev/null 2>&1
fi
if [ ! -s "$work/template.log" ]; then
  "$bin" simulate --lines "$hour_lines" --hours 1 --seed 12 --out "$work/template.log" >/dev/null
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One run: a fresh daemon, RATE lines/s for SECS seconds; appends a JSON line to results.
run_one() { # binary label rate secs
  local exe=$1 label=$2 rate=$3 seconds=$4 dir hook web pid
  dir="$work/run-$label-$rate"
  rm -rf "$dir" && mkdir -p "$dir"
  : > "$dir/access.log"
  hook=$(free_port)
  web=$(free_port)
  "$exe" watch --model "$work/m.model" --source "file:$dir/access.log" \
    --alert "webhook:http://127.0.0.1:$hook/hook" --db "$dir/anomalog.db" \
    --state-dir "$dir/state" --listen "127.0.0.1:$web" --from-beginning ${WATCH_ARGS:-} 2>"$dir/watch.err" &
  pid=$!
  if "$gen" --template "$work/template.log" --out "$dir/access.log" --rate "$rate" \
    --secs "$seconds" --drain-secs "${DRAIN_SECS:-10}" --hook "127.0.0.1:$hook" --metrics "127.0.0.1:$web" --pid "$pid" \
    >"$dir/result.json"; then
    sed "s/^{/{\"label\":\"$label\",/" "$dir/result.json" >> "$work/results.jsonl"
  fi
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$dir/access.log"
}

: > "$work/results.jsonl"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "model: $work/m.model; template: $hour_lines lines (1 h at $site_rps req/s); $runs run(s), medians" >&2
for rate in $rates; do
  for run in $(seq "$runs"); do
    echo "rate $rate lines/s, run $run..." >&2
    run_one "$bin" step "$rate" "$secs"
    if [ -n "${BASELINE:-}" ]; then
      run_one "$BASELINE" base "$rate" "$secs"
    fi
  done
done
if [ "$hour_rate" -gt 0 ]; then
  hour_secs=$(awk -v n="$hour_lines" -v r="$hour_rate" 'BEGIN {printf "%.3f", n / r}')
  echo "one hour of a $site_rps req/s site ($hour_lines lines) at $hour_rate lines/s..." >&2
  run_one "$bin" hour "$hour_rate" "$hour_secs"
  if [ -n "${BASELINE:-}" ]; then
    run_one "$BASELINE" basehour "$hour_rate" "$hour_secs"
  fi
fi
echo "load average: $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"

python3 - "$work/results.jsonl" "$site_rps" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def med(rs, k):
    vals = [r[k] for r in rs if r.get(k) is not None and r[k] == r[k]]
    return statistics.median(vals) if vals else float("nan")
print(f"{'binary':>8} {'rate/s':>8} {'read/s':>9} {'lag s':>6} {'drain s':>7} {'kept up':>7} "
      f"{'probes':>9} {'p50 ms':>7} {'p99 ms':>7} {'rss MB':>14} {'cpu us/line':>11}")
def show(binary, label, rs):
    drains = [r["drain_secs"] for r in rs]
    drain = statistics.median([d if d is not None else float("inf") for d in drains])
    kept = sum(1 for r in rs if r["max_lag_secs"] < 0.5 and r["drain_secs"] is not None
               and r["drain_secs"] <= 1.0)
    kept_text = "%d/%d" % (kept, len(rs))
    probes = "%d/%d" % (med(rs, "probe_alerts"), med(rs, "probes"))
    rss = "%.0f (%.0f)" % (med(rs, "rss_mb"), med(rs, "rss_peak_mb"))
    print(f"{binary:>8} {label:>8} {med(rs, 'read_rate'):>9.0f} {med(rs, 'max_lag_secs'):>6.2f} "
          f"{drain:>7.2f} {kept_text:>7} {probes:>9} {med(rs, 'p50_ms'):>7.1f} "
          f"{med(rs, 'p99_ms'):>7.1f} {rss:>14} {med(rs, 'cpu_us_per_line'):>11.2f}")
steps = [r for r in rows if r["label"] == "step"]
for rate in sorted({r["rate"] for r in rows if r["label"] in ("step", "base")}):
    for label, name in (("step", "this"), ("base", "baseline")):
        rs = [r for r in rows if r["label"] == label and r["rate"] == rate]
        if rs:
            show(name, rate, rs)
best = [rate for rate in sorted({r["rate"] for r in steps})
        if all(r["max_lag_secs"] < 0.5 and r["drain_secs"] is not None and r["drain_secs"] <= 1.0
               for r in steps if r["rate"] == rate)]
print(f"highest rate kept up: {max(best) if best else 'none'} lines/s")
for r in rows:
    if r["label"] in ("hour", "basehour"):
        who = "" if r["label"] == "hour" else "baseline: "
        print(f"{who}after one hour of a {sys.argv[2]} req/s site ({r['lines']} lines at {r['rate']}/s): "
              f"rss {r['rss_mb']:.0f} MB, peak {r['rss_peak_mb']:.0f} MB; "
              f"alert p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms; "
              f"read {r['read_rate']:.0f}/s, lag {r['max_lag_secs']:.2f} s, cpu {r['cpu_us_per_line']:.2f} us/line")
EOF
