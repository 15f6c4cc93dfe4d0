#!/usr/bin/env bash
# Throughput and lag of `anomalog watch` as a Kafka consumer group: 1 process, then 2
# processes in one group, against librdkafka's mock cluster on loopback, and the ratio
# of the two measured in the same run.
#
#   bench/kafka.sh [LINES] [PARTITIONS]       (default 400000 lines, 24 partitions)
#   RUNS=5 bench/kafka.sh                      (runs per process count; default 3)
#
# Each process is the real `anomalog watch` of a `--features kafka` release build: the
# Kafka source, the model trained here on simulated traffic (the default detector),
# incidents, a JSONL alert sink, its own SQLite store, offset commits after the alerts
# are durable. Lines are simulated web-shop traffic (with its attacks), produced keyed by
# client after the group has settled; lines/s is over the time until the processes have
# read every line (from their /metrics), "committed s" the time until the group has
# committed every line (the daemon commits at most every second). Lag is produced minus
# committed, sampled every 50 ms. "cpu µs/line" is the CPU time of the anomalog
# processes (all threads) per line, from /proc: cores needed per 100k lines/s = that
# / 10, a figure that holds on a busy machine where lines/s does not. The table shows
# the medians of the runs. The mock
# broker, the producer and the consumers share this machine's cores, so a second
# process adds less than it would on its own host. The mock cluster keeps at most
# 100000 records or 5 MB per partition (older ones are deleted, as retention would), so
# keep LINES x 260 bytes / PARTITIONS under 5 MB. The first build compiles librdkafka
# (about a minute on 2 idle cores). Work files go to BENCH_DIR (default: a temporary
# directory).
set -euo pipefail

lines="${1:-400000}"
partitions="${2:-24}"
runs="${RUNS:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
work="${BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"

cargo build --quiet --release -p anomalog --features kafka
cargo build --quiet --release -p anomalog-kafka --features rdkafka --example kafka_bench
anomalog="$CARGO_TARGET_DIR/release/anomalog"
bench="$CARGO_TARGET_DIR/release/examples/kafka_bench"

if [[ ! -f "$work/m.model" ]]; then
    "$anomalog" simulate --lines 50000 --seed 3 --out "$work/train.log" >/dev/null
    "$anomalog" train "$work/train.log" -o "$work/m.model" >/dev/null 2>&1
    "$anomalog" simulate --lines 200000 --seed 7 --out "$work/traffic.log" >/dev/null
fi

results=()
for processes in 1 2; do
    for ((run = 1; run <= runs; run++)); do
        out="$("$bench" run --watch "$anomalog" --model "$work/m.model" \
            --input "$work/traffic.log" --processes "$processes" --lines "$lines" \
            --partitions "$partitions")"
        echo "$out"
        results+=("$out")
    done
done

python3 - "${results[@]}" <<'PY'
import json, statistics, sys
rows = [json.loads(a) for a in sys.argv[1:]]
def median(n, key):
    return statistics.median(r[key] for r in rows if r["processes"] == n)
print(f"medians of {sum(1 for r in rows if r['processes'] == 1)} runs")
print(f"{'processes':>9} {'lines/s':>10} {'read s':>7} {'committed s':>11} {'max lag':>9} "
      f"{'mean lag':>9} {'join s':>7} {'cpu µs/line':>12}")
for n in (1, 2):
    print(f"{n:>9} {median(n, 'lines_per_sec'):>10.0f} {median(n, 'read_seconds'):>7.2f} "
          f"{median(n, 'committed_seconds'):>11.2f} {median(n, 'max_lag'):>9.0f} "
          f"{median(n, 'mean_lag'):>9.0f} {median(n, 'join_seconds'):>7.2f} "
          f"{median(n, 'cpu_us_per_line'):>12.2f}")
ratio = median(2, "lines_per_sec") / median(1, "lines_per_sec")
print(f"ratio 2 processes / 1 process: {ratio:.2f}")
print(f"cores per 100k lines/s (1 process): {median(1, 'cpu_us_per_line') / 10:.2f}")
with open("/proc/loadavg") as f:
    print(f"load average at the end: {f.read().split()[0]} on {__import__('os').cpu_count()} cores")
PY
