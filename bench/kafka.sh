#!/usr/bin/env bash
# Throughput and lag of `anomalog watch` as a Kafka consumer group: 1 process, then 2
# processes in one group, against librdkafka's mock cluster on loopback, and the ratio
# of the two measured in the same run.
#
#   bench/kafka.sh [LINES] [PARTITIONS]          (default 600000 lines, 24 partitions)
#
# Each process is a real daemon (Kafka source, incident tracker, checkpoint, offset
# commits after every batch) with a pass-through scorer, so the numbers are those of
# the Kafka path and the daemon loop, not of a model. Lines are produced after the
# group has settled; lines/s is over the time until the processes have read every
# line, "committed s" the time until the group has committed every line (the daemon
# commits at most every commit_interval_ms, 1 s by default). Lag is produced minus
# committed, sampled every 50 ms. The mock broker, the producer and the
# consumers share this machine's cores, so a second process adds less than it would on
# its own host. The mock cluster keeps at most 100000 records or 5 MB per partition
# (older ones are deleted, as retention would), so keep LINES x 110 bytes / PARTITIONS
# under 5 MB. The first build compiles librdkafka (about a minute on 2 idle cores).
set -euo pipefail

lines="${1:-600000}"
partitions="${2:-24}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target-kafka}"

cargo build --quiet --release -p anomalog-kafka --features rdkafka --example kafka_bench
bin="$CARGO_TARGET_DIR/release/examples/kafka_bench"

results=()
for processes in 1 2; do
    out="$("$bin" run --processes "$processes" --lines "$lines" --partitions "$partitions")"
    echo "$out"
    results+=("$out")
done

python3 - "${results[@]}" <<'PY'
import json, sys
rows = [json.loads(a) for a in sys.argv[1:]]
print(f"{'processes':>9} {'lines/s':>10} {'read s':>7} {'committed s':>11} {'max lag':>9} "
      f"{'mean lag':>9} {'join s':>7}")
for r in rows:
    print(f"{r['processes']:>9} {r['lines_per_sec']:>10.0f} {r['read_seconds']:>7.2f} "
          f"{r['committed_seconds']:>11.2f} {r['max_lag']:>9} {r['mean_lag']:>9.0f} "
          f"{r['join_seconds']:>7.2f}")
print(f"ratio 2 processes / 1 process: {rows[1]['lines_per_sec'] / rows[0]['lines_per_sec']:.2f}")
PY
