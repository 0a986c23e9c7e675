#!/usr/bin/env bash
# Load benchmark of the control plane (the results are in BENCHMARKS.md): builds the release
# server and load generator, starts `openliveness serve` on 127.0.0.1 with a fresh data
# directory, runs the scenarios below with openliveness-loadgen (fully SigV4-signed requests on
# keep-alive HTTP/1.1 connections), stops the server and prints a summary.
#
#   create-max   CreateFaceLivenessSession, closed loop (max throughput)
#   get-max      GetFaceLivenessSessionResults over 1000 sessions, closed loop
#   create-1000  Create at a fixed 1000 req/s (open loop, latency from the intended send time)
#   get-1000     Get at a fixed 1000 req/s
#
# The load generator runs on the same machine as the server and competes with it for the CPUs.
#
# Environment (all optional):
#   BENCH_DURATION       measured seconds per scenario (default 10, at most 120)
#   BENCH_WARMUP         warm-up seconds per scenario, not measured (default 2)
#   BENCH_CONCURRENCY    connections of the load generator (default 64)
#   BENCH_RATE           the fixed rate of the *-1000 scenarios (default 1000)
#   BENCH_DATA_PARENT    where the data directory is made (default: $TMPDIR or /tmp). Setting it
#                        to /dev/shm (tmpfs) takes fsync out of the picture: NOT durable, for
#                        comparison only.
#   BENCH_LOG            the server's --log filter (default: info, the server's default)
#   BENCH_SWEEP          also run Create closed loop at these concurrencies, e.g. "1 4 16 64 256"
#   BENCH_PERF=1         count the server's fdatasync/fsync calls with `perf stat` (one redb
#                        commit = one fdatasync), to show the group-commit batch size
#   BENCH_NO_BUILD=1     use the binaries already built
#   BENCH_RESULTS        keep the JSON reports and server log in this directory
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# shellcheck source=scripts/lib/bench.sh
source "$root/scripts/lib/bench.sh"

rate="${BENCH_RATE:-1000}"
log="${BENCH_LOG:-info}"
data_parent="${BENCH_DATA_PARENT:-${TMPDIR:-/tmp}}"

work="$(mktemp -d "${TMPDIR:-/tmp}/openliveness-bench.XXXXXX")"
data_dir="$(mktemp -d "$data_parent/openliveness-bench-data.XXXXXX")"
cleanup() {
    stop_server
    rm -rf "$data_dir" "$work"
}
trap cleanup EXIT

bench_binaries

bench_config "$work/config.toml"

describe_machine "data dir" "$data_dir"

# Start the server and wait for the line that says where it listens.
start_server "$server" "$work/config.toml" "$data_dir" "$results/server.log" "$log"
echo "server: pid $server_pid, $endpoint, --log $log"

perf_ok=""
if [[ -n "${BENCH_PERF:-}" ]] && command -v perf >/dev/null \
    && perf stat -e syscalls:sys_enter_fdatasync -- true >/dev/null 2>&1; then
    perf_ok=1
fi

summaries=()
run() {
    local name="$1"
    shift
    echo
    local perf_pid=""
    if [[ -n "$perf_ok" ]]; then
        perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p "$server_pid" \
            -o "$results/$name.perf" &
        perf_pid=$!
    fi
    run_loadgen "$name" "$@"
    if [[ -n "$perf_pid" ]]; then
        kill -INT "$perf_pid"
        wait "$perf_pid" || true
        local syncs creates pool
        syncs="$(awk -F, '/sys_enter_f(data)?sync/ { n += $1 } END { print n + 0 }' "$results/$name.perf")"
        creates="$(sed -n 's/^sent in the whole run, warm-up included: create \([0-9]*\).*/\1/p' "$results/$name.txt")"
        pool="$(sed -n 's/.*(plus \([0-9]*\) pool creates).*/\1/p' "$results/$name.txt")"
        creates=$((${creates:-0} + ${pool:-0}))
        if [[ "$syncs" -gt 0 ]]; then
            echo "server fdatasync+fsync calls: $syncs for $creates creates (whole run): $(awk -v c="$creates" -v s="$syncs" 'BEGIN { printf "%.1f", c / s }') creates per commit"
        else
            echo "server fdatasync+fsync calls: 0"
        fi
    fi
}

run create-max --operation create --concurrency "$concurrency"
run get-max --operation get --concurrency "$concurrency"
run "create-$rate" --operation create --concurrency "$concurrency" --rate "$rate"
run "get-$rate" --operation get --concurrency "$concurrency" --rate "$rate"
for c in ${BENCH_SWEEP:-}; do
    run "create-max-c$c" --operation create --concurrency "$c"
done

stop_server

echo
echo "== summary (latency in ms; at a fixed rate measured from the intended send time)"
printf '%-18s %10s %8s %8s %8s %8s %8s\n' scenario "req/s" errors p50 p90 p99 max
for line in "${summaries[@]}"; do
    # SUMMARY name rps=… ok=… errors=… p50_ms=… p90_ms=… p99_ms=… max_ms=…
    awk '{
        for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%-18s %10s %8s %8s %8s %8s %8s\n", $2, v["rps"], v["errors"], v["p50_ms"], v["p90_ms"], v["p99_ms"], v["max_ms"]
    }' <<<"$line"
done
describe_end
