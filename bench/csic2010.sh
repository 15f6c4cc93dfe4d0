#!/usr/bin/env bash
# Detection quality of every detector on HTTP DATASET CSIC 2010, standard protocol: train
# on normalTrafficTraining, test on normalTrafficTest (label 0) + anomalousTrafficTest
# (label 1), at the production threshold (1% contamination of training scores).
#
#   bench/csic2010.sh DATA_DIR
#
# DATA_DIR holds the three files, gzip-compressed (`*.txt.gz`) or not; compressed files
# are unpacked into a temporary directory, never next to the data or into the repository.
# Environment: DETECTORS (space separated, default: every detector), BIN (an anomalog
# binary to use instead of building one), OUT (a directory to keep the JSON reports in).
# Prints one row per detector: ROC-AUC, PR-AUC, precision, recall, F1, FPR at the
# threshold, best F1 over all thresholds, training seconds and scoring rows per second.
set -euo pipefail
data=${1:?usage: bench/csic2010.sh DATA_DIR}
data=$(cd "$data" && pwd)
cd "$(dirname "$0")/.."
detectors=${DETECTORS:-ensemble iforest eif ocsvm autoencoder hbos zscore tail}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet -p anomalog
  BIN=${CARGO_TARGET_DIR:-target}/release/anomalog
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=${OUT:-$work}
mkdir -p "$out"

# shellcheck source=bench/lib.sh
. bench/lib.sh
train=$(uncompressed "$data" "$work" normalTrafficTraining.txt)
normal=$(uncompressed "$data" "$work" normalTrafficTest.txt)
anomalous=$(uncompressed "$data" "$work" anomalousTrafficTest.txt)

printf '%-12s %7s %7s %9s %7s %7s %7s %8s %8s %11s\n' \
  detector roc_auc pr_auc precision recall f1 fpr best_f1 train_s score_rows/s
for d in $detectors; do
  "$BIN" eval --format csic2010 --train "$train" --normal "$normal" --anomalous "$anomalous" \
    --detector "$d" --json > "$out/csic2010-$d.json"
  jq -r '[.detector, .roc_auc, .pr_auc, .precision, .recall, .f1, .false_positive_rate,
          .best_f1.f1, .train_seconds, .score_records_per_second] | @tsv' "$out/csic2010-$d.json" |
    awk -F'\t' '{ printf "%-12s %7.4f %7.4f %9.4f %7.4f %7.4f %7.4f %8.4f %8.2f %11.0f\n",
                  $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }'
done
