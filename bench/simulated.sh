#!/usr/bin/env bash
# Detection quality of every detector on simulated web-shop traffic: simulate LINES lines
# (`anomalog simulate`, fixed seed), train on the first half, test on the second
# (`anomalog eval --split 0.5`), at the production threshold.
#
#   bench/simulated.sh [LINES]
#
# Environment: DETECTORS (space separated, default: every detector), SEED (default 42),
# BIN (an anomalog binary to use instead of building one), OUT (a directory to keep the
# log, labels and JSON reports in; default a temporary directory).
# Prints one row per detector: ROC-AUC, PR-AUC, precision, recall, F1, FPR, then the
# recall of each attack category.
set -euo pipefail
lines=${1:-200000}
cd "$(dirname "$0")/.."
detectors=${DETECTORS:-ensemble iforest eif ocsvm autoencoder hbos zscore tail}
seed=${SEED:-42}
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet -p anomalog
  BIN=${CARGO_TARGET_DIR:-target}/release/anomalog
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=${OUT:-$work}
mkdir -p "$out"
log="$out/shop.log"
labels="$out/shop.labels"
"$BIN" simulate --lines "$lines" --seed "$seed" --out "$log" --labels "$labels" >/dev/null

categories="sqli xss traversal cmdi scan bruteforce flood credential_stuffing scraping incident"
short() { # a column header short enough for the table
  case $1 in credential_stuffing) echo cred_stuff ;; *) echo "$1" ;; esac
}
printf '%-12s %7s %7s %7s %7s %7s %7s' detector roc_auc pr_auc prec recall f1 fpr
for c in $categories; do printf ' %10s' "$(short "$c")"; done
printf '\n'
for d in $detectors; do
  json="$out/simulated-$d.json"
  "$BIN" eval "$log" --labels "$labels" --split 0.5 --seed "$seed" --detector "$d" --json > "$json"
  jq -r '[.detector, .roc_auc, .pr_auc, .precision, .recall, .f1, .false_positive_rate] | @tsv' \
    "$json" | awk -F'\t' '{ printf "%-12s %7.4f %7.4f %7.4f %7.4f %7.4f %7.4f", $1, $2, $3, $4, $5, $6, $7 }'
  for c in $categories; do
    jq -r --arg c "$c" '.per_category[$c].recall // "nan"' "$json" |
      awk '{ if ($1 == "nan") printf " %10s", "-"; else printf " %10.2f", $1 }'
  done
  printf '\n'
done
