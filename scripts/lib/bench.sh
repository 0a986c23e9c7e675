# Sourced by the benchmark scripts (bench.sh, bench-redis.sh, bench-streams.sh): the server
# (lib/server.sh), the release binaries, its configuration, the description of the machine, and
# one scenario of the load generator. Needs $root, and $work for the functions.

# shellcheck source=scripts/lib/server.sh
source "$root/scripts/lib/server.sh"

# The settings the load benchmarks take from the environment (see their headers).
duration="${BENCH_DURATION:-10}"
warmup="${BENCH_WARMUP:-2}"
concurrency="${BENCH_CONCURRENCY:-64}"

# Builds the release server and load generator (unless BENCH_NO_BUILD is set) and copies them
# into $work: the shared target directory may be rebuilt during the run. Sets server, loadgen and
# results (BENCH_RESULTS, else a directory in $work).
bench_binaries() {
    local target_dir
    if [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
        case "$CARGO_TARGET_DIR" in
            /*) target_dir="$CARGO_TARGET_DIR" ;;
            *) target_dir="$PWD/$CARGO_TARGET_DIR" ;;
        esac
    else
        target_dir="$root/target"
    fi
    if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
        cargo build --release -p openliveness-cli -p openliveness-bench
    fi
    cp "$target_dir/release/openliveness" "$target_dir/release/openliveness-loadgen" "$work/"
    server="$work/openliveness"
    loadgen="$work/openliveness-loadgen"
    results="${BENCH_RESULTS:-$work/results}"
    mkdir -p "$results"
}

#   bench_config FILE [TOML_LINE...]
#
# Writes a server configuration to FILE: the TOML_LINEs, then the credential the load generators
# sign with by default.
bench_config() {
    local file="$1"
    shift
    {
        if [[ $# -gt 0 ]]; then
            printf '%s\n' "$@"
        fi
        printf '%s\n' '[[credentials]]' 'access_key_id = "AKIDBENCH"' \
            'secret_access_key = "bench-secret"' 'tenant = "123456789012"'
    } >"$file"
}

#   describe_machine LABEL DIR [LINE...]
#
# Prints the machine, the directory the data goes to (and its file system), the LINEs, the load
# average and the commit.
describe_machine() {
    local label="$1" dir="$2"
    shift 2
    echo "== machine"
    echo "nproc: $(nproc)"
    lscpu 2>/dev/null | grep 'Model name' || true
    grep MemTotal /proc/meminfo || true
    echo "kernel: $(uname -r)"
    echo "$label: $dir ($(df -T "$dir" | awk 'NR == 2 { print $2 " on " $1 }'))"
    if [[ $# -gt 0 ]]; then
        printf '%s\n' "$@"
    fi
    echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
}

#   run_loadgen NAME ARG...
#
# Runs one scenario of the load generator against $endpoint and $server_pid for $duration
# seconds after $warmup: its report goes to $results/NAME.txt and NAME.json, its SUMMARY line
# onto the array summaries.
run_loadgen() {
    local name="$1"
    shift
    "$loadgen" --endpoint "$endpoint" --duration-secs "$duration" --warmup-secs "$warmup" \
        --server-pid "$server_pid" --label "$name" --json-out "$results/$name.json" "$@" \
        | tee "$results/$name.txt"
    summaries+=("$(grep '^SUMMARY ' "$results/$name.txt")")
}

# Prints the load average after the run, and where the reports are kept.
describe_end() {
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [[ -n "${BENCH_RESULTS:-}" ]]; then
        echo "reports in $results"
    fi
}
