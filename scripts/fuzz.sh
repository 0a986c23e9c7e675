#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a while (default 20 s each), installing cargo-fuzz (pinned)
# when it is missing. A crash stops the run and leaves its input in fuzz/artifacts/.
#
#   scripts/fuzz.sh            every target, 20 s each
#   scripts/fuzz.sh 300        every target, 5 minutes each
#   scripts/fuzz.sh 60 sigv4_header
#
# cargo-fuzz needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-20}"
shift || true
cargo_fuzz_version=0.13.2

if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
    cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi

cd "$root/fuzz"
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(RUSTC_BOOTSTRAP=1 cargo fuzz list)
target_dir="${CARGO_TARGET_DIR:-$root/target}/fuzz"
for target in "${targets[@]}"; do
    echo "fuzz: $target for ${seconds}s"
    log="$(mktemp)"
    status=0
    RUSTC_BOOTSTRAP=1 cargo fuzz run --target-dir "$target_dir" "$target" -- \
        -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 >"$log" 2>&1 || status=$?
    # Only the summary: libFuzzer's progress lines are long and many.
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|Done)' "$log" || true
    if [[ "$status" != 0 ]]; then
        tail -n 40 "$log" >&2
        rm -f "$log"
        echo "fuzz: $target failed (exit $status), see fuzz/artifacts/$target" >&2
        exit 1
    fi
    rm -f "$log"
done
