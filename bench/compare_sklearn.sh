#!/usr/bin/env bash
# anomalog's detectors against their scikit-learn counterparts on the same feature matrix:
# ROC-AUC, PR-AUC, fit seconds and scoring rows/s of each, and per pair the scoring speedup
# and the ROC-AUC difference, all measured in the same run.
#
#   bench/compare_sklearn.sh [LINES] [DATA_DIR]
#
# 1. Builds `anomalog` and the `matrix_bench` example (release).
# 2. Creates a virtualenv (${BENCH_VENV:-target/bench-venv}) with bench/requirements.txt.
# 3. Simulates LINES (default 100000) labeled lines (seed 1), trains the features on the
#    first half (`anomalog train`), and dumps the scaled matrices of both halves with
#    `anomalog features --model ... --scaled --labels ...`.
# 4. With DATA_DIR (the HTTP DATASET CSIC 2010 files, `*.txt` or `*.txt.gz`), the same on
#    the standard protocol: train on normalTrafficTraining; test on normalTrafficTest
#    (label 0) followed by anomalousTrafficTest (label 1).
# 5. `matrix_bench` fits every anomalog detector on each train matrix and scores the test
#    matrix; bench/compare_sklearn.py fits IsolationForest, Nystroem + SGDOneClassSVM and an
#    MLPRegressor autoencoder on the same matrices, computes every metric with
#    sklearn.metrics and prints the table.
#
# Both sides run pinned to the same CPUs (${BENCH_CPUS:-0,1} when taskset exists) with the
# same thread count (${BENCH_THREADS:-2}): RAYON_NUM_THREADS for anomalog; n_jobs,
# OMP/OPENBLAS/MKL thread variables and threadpoolctl for scikit-learn. Scoring speed is
# the median of ${BENCH_RUNS:-5} runs after one untimed run. Both Isolation Forests are also
# fitted with seeds 1..${BENCH_SEEDS:-5} (0 to skip) and their ROC-AUC summarized, since
# one seed varies by about 0.01. Other environment: BENCH_DIR
# (keep the work files there instead of a temporary directory), BENCH_JSON (also write every
# number to this file).
set -euo pipefail
lines=${1:-100000}
data=${2:-}
[ -n "$data" ] && data=$(cd "$data" && pwd)
cd "$(dirname "$0")/.."
root=$(pwd)
threads=${BENCH_THREADS:-2}
cpus=${BENCH_CPUS:-0,1}
runs=${BENCH_RUNS:-5}
seeds=${BENCH_SEEDS:-5}
target=${CARGO_TARGET_DIR:-target}
venv=${BENCH_VENV:-$target/bench-venv}

cargo build --release --quiet -p anomalog
cargo build --release --quiet -p anomalog-models --example matrix_bench
case $target in /*) ;; *) target=$root/$target ;; esac
bin=$target/release/anomalog
mb=$target/release/examples/matrix_bench

if [ ! -x "$venv/bin/python" ] || ! cmp -s bench/requirements.txt "$venv/requirements.txt"; then
  echo "setting up $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt "$venv/requirements.txt"
fi

if [ -n "${BENCH_DIR:-}" ]; then
  work=$BENCH_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

export RAYON_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
  MKL_NUM_THREADS=$threads
pin=()
if command -v taskset >/dev/null; then
  pin=(taskset -c "$cpus")
fi

# Trains features on TRAIN_LOG, dumps the scaled matrices of TRAIN_LOG and of the TEST_LOGs
# (one stream, as `anomalog eval` scores them) and runs the anomalog side.
#   prepare NAME FORMAT TRAIN_LOG TEST_LABELS TEST_LOG...
# TEST_LABELS is a labels file for the test lines, or `split` when there are two test logs,
# normal then anomalous: the rows of the second are those after the `line` column restarts.
prepare() {
  local name=$1 format=$2 train=$3 test_labels=$4
  shift 4
  echo "$name: training features on $(basename "$train")" >&2
  "$bin" train --format "$format" --seed 1 "$train" -o "$work/$name.model" >/dev/null
  "$bin" features --format "$format" --model "$work/$name.model" --scaled -o csv "$train" \
    > "$work/$name.train.csv"
  if [ "$test_labels" = split ]; then
    "$bin" features --format "$format" --model "$work/$name.model" --scaled -o csv "$@" |
      awk -F, 'NR == 1 { print $0 ",label,category"; next }
               $1 + 0 < prev { anomalous = 1 }
               { prev = $1 + 0; print $0 (anomalous ? ",1,anomalous" : ",0,") }' \
      > "$work/$name.test.csv"
  else
    "$bin" features --format "$format" --model "$work/$name.model" --scaled \
      --labels "$test_labels" -o csv "$@" > "$work/$name.test.csv"
  fi
  echo "$name: anomalog detectors" >&2
  "${pin[@]}" "$mb" "$work/$name.train.csv" "$work/$name.test.csv" "$work/$name.scores" \
    --runs "$runs" --seed 1 > "$work/$name.anomalog.jsonl"
  datasets+=(--dataset "$name" "$work/$name.train.csv" "$work/$name.test.csv" \
    "$work/$name.anomalog.jsonl")
}
datasets=()

log=$work/sim.log
labels=$work/sim.labels
"$bin" simulate --lines "$lines" --seed 1 --out "$log" --labels "$labels" >/dev/null
half=$((lines / 2))
head -n "$half" "$log" > "$work/sim.train.log"
tail -n +"$((half + 1))" "$log" > "$work/sim.test.log"
tail -n +"$((half + 1))" "$labels" > "$work/sim.test.labels"
prepare simulated combined "$work/sim.train.log" "$work/sim.test.labels" "$work/sim.test.log"

if [ -n "$data" ]; then
  # shellcheck source=bench/lib.sh
  . bench/lib.sh
  ctrain=$(uncompressed "$data" "$work" normalTrafficTraining.txt)
  cnormal=$(uncompressed "$data" "$work" normalTrafficTest.txt)
  canomalous=$(uncompressed "$data" "$work" anomalousTrafficTest.txt)
  prepare csic2010 csic2010 "$ctrain" split "$cnormal" "$canomalous"
fi

"${pin[@]}" "$venv/bin/python" bench/compare_sklearn.py "${datasets[@]}" \
  --runs "$runs" --threads "$threads" --seed 1 --seeds "$seeds" --matrix-bench "$mb" \
  ${BENCH_JSON:+--json "$BENCH_JSON"}
echo "command: bench/compare_sklearn.sh $lines${data:+ $data}; CPUs ${pin[*]:-unpinned}"
