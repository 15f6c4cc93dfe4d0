#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for a bounded time and prints the executions per
# target and any crash found.
#
#   bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 60 s, every target)
#
# cargo-fuzz builds with `-Zsanitizer=address`, a nightly-only flag. A nightly
# toolchain is used when FUZZ_TOOLCHAIN names one (FUZZ_TOOLCHAIN=nightly); otherwise
# the stable compiler is told to accept the flag with RUSTC_BOOTSTRAP=1.
#
# Inputs that crash a target are left in fuzz/artifacts/<target>/; keep each one as a
# regression in fuzz/regressions/<target>/. The corpus grows in fuzz/corpus/<target>/,
# seeded from fuzz/seeds/<target>/. Exit status: 0 when no target crashed.
set -euo pipefail

secs="${1:-60}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

toolchain=()
if [[ -n "${FUZZ_TOOLCHAIN:-}" ]]; then
    toolchain=("+$FUZZ_TOOLCHAIN")
else
    export RUSTC_BOOTSTRAP=1
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/fuzz/target}"

if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
fi

cargo "${toolchain[@]}" fuzz build -O

logs="$(mktemp -d)"
failed=0
printf '%-18s %8s %14s %10s  %s\n' target seconds executions exec/s result
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "seeds/$target" "artifacts/$target"
    log="$logs/$target.log"
    dirs=("corpus/$target" "seeds/$target")
    if [[ -d "regressions/$target" ]]; then
        dirs+=("regressions/$target")
    fi
    status=ok
    if ! cargo "${toolchain[@]}" fuzz run -O "$target" "${dirs[@]}" -- \
        -max_total_time="$secs" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        if grep -q 'failed to build' "$log"; then
            status="BUILD FAILED: see $log"
        else
            status="CRASH: $(grep -m1 -oE 'artifacts/[^ ]+' "$log" || echo "see $log")"
        fi
        failed=1
    fi
    runs="$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)"
    rate="$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1 || true)"
    printf '%-18s %8s %14s %10s  %s\n' "$target" "$secs" "${runs:-?}" "${rate:-?}" "$status"
done
echo "logs: $logs"
exit "$failed"
