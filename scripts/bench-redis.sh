#!/usr/bin/env bash
# Control-plane throughput with the session store in Redis against the embedded store, in one
# run on one machine (BENCHMARKS.md, "Redis vs embedded"): builds the release server and load
# generator, starts a redis-server on a free loopback port, then for each store below starts
# `openliveness serve` on 127.0.0.1, runs the same two scenarios with openliveness-loadgen
# (fully SigV4-signed requests on keep-alive HTTP/1.1 connections) and stops it.
#
#   embedded         the embedded redb store (group commit, one fdatasync per batch)
#   redis-always     Redis, append-only file with appendfsync always (durable like embedded)
#   redis-everysec   Redis, appendfsync everysec (Redis's usual setting: up to 1 s of writes
#                    can be lost if Redis crashes)
#
#   create-max   CreateFaceLivenessSession, closed loop (max throughput)
#   get-max      GetFaceLivenessSessionResults over 1000 sessions, closed loop
#
# The load generator, the server and Redis share the machine's CPUs. Loopback only; every run
# is bounded (the load generator stops by itself after warm-up + duration).
#
# Environment (all optional):
#   BENCH_DURATION       measured seconds per scenario (default 10, at most 120)
#   BENCH_WARMUP         warm-up seconds per scenario, not measured (default 2)
#   BENCH_CONCURRENCY    connections of the load generator (default 64)
#   BENCH_STORES         which of the stores above to run (default: all three)
#   BENCH_NO_BUILD=1     use the binaries already built
#   BENCH_RESULTS        keep the JSON reports and logs in this directory
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# shellcheck source=scripts/lib/bench.sh
source "$root/scripts/lib/bench.sh"

stores="${BENCH_STORES:-embedded redis-always redis-everysec}"

command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
    echo "bench-redis.sh: redis-server is not installed: run scripts/setup.sh --tests" >&2
    exit 1
}

work="$(mktemp -d "${TMPDIR:-/tmp}/openliveness-bench-redis.XXXXXX")"
redis_pid=""
cleanup() {
    stop_server
    if [[ -n "$redis_pid" ]] && kill -0 "$redis_pid" 2>/dev/null; then
        kill -TERM "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

bench_binaries

# A free loopback port for Redis: bind port 0 and read what the kernel chose.
redis_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$work/redis"
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work/redis" --save "" \
    --appendonly yes --appendfsync always --maxmemory-policy noeviction \
    --daemonize no --logfile "$results/redis.log" &
redis_pid=$!
for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null || {
    echo "bench-redis.sh: redis-server did not start; its log:" >&2
    cat "$results/redis.log" >&2
    exit 1
}
redis_url="redis://127.0.0.1:$redis_port/0"

describe_machine "work dir" "$work" \
    "redis: $(redis-server --version | cut -d' ' -f1-3) on 127.0.0.1:$redis_port"

# CPU time (clock ticks, user + system) a process has used.
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$1/stat"
}
ticks_per_second="$(getconf CLK_TCK)"

summaries=()
server_cpu=()
redis_cpu=()
run() {
    local name="$1"
    shift
    echo
    local before
    before="$(cpu_ticks "$redis_pid")"
    run_loadgen "$name" "$@"
    server_cpu+=("$(sed -n 's/^server CPU .*, \([0-9.]*\) µs\/request)$/\1/p' "$results/$name.txt")")
    # Redis's CPU over the whole run (warm-up and pool included), per request sent.
    local ticks sent
    ticks=$(($(cpu_ticks "$redis_pid") - before))
    sent="$(sed -n 's/^sent in the whole run, warm-up included: create \([0-9]*\), get \([0-9]*\).*/\1 \2/p' "$results/$name.txt" \
        | awk '{ print $1 + $2 }')"
    local per_request
    per_request="$(awk -v t="$ticks" -v hz="$ticks_per_second" -v n="${sent:-0}" \
        'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }')"
    if [[ "$name" == redis-* ]]; then
        echo "redis CPU $(awk -v t="$ticks" -v hz="$ticks_per_second" 'BEGIN { printf "%.2f", t / hz }') s over the whole run: $per_request µs/request"
        redis_cpu+=("$per_request")
    else
        redis_cpu+=("-")
    fi
}

for store in $stores; do
    echo
    echo "== store: $store"
    data_dir="$work/data-$store"
    mkdir -p "$data_dir"
    case "$store" in
        embedded)
            bench_config "$work/$store.toml"
            ;;
        redis-always | redis-everysec)
            redis-cli -p "$redis_port" flushall >/dev/null
            redis-cli -p "$redis_port" config set appendfsync "${store#redis-}" >/dev/null
            bench_config "$work/$store.toml" '[store]' 'kind = "redis"' "redis_url = \"$redis_url\""
            ;;
        *)
            echo "bench-redis.sh: unknown store $store" >&2
            exit 2
            ;;
    esac
    start_server "$server" "$work/$store.toml" "$data_dir" "$results/server-$store.log"
    echo "server: pid $server_pid, $endpoint"
    run "$store-create-max" --operation create --concurrency "$concurrency"
    run "$store-get-max" --operation get --concurrency "$concurrency"
    stop_server
    if [[ "$store" == redis-* ]]; then
        echo "redis: $(redis-cli -p "$redis_port" dbsize) keys, used_memory $(redis-cli -p "$redis_port" info memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p')"
    fi
done

echo
echo "== summary (closed loop, concurrency $concurrency, latency in ms)"
echo "(CPU per request: the server's in the measured window, Redis's over the whole run)"
printf '%-26s %8s %7s %7s %7s %7s %8s %12s %12s\n' scenario "req/s" errors p50 p90 p99 max "server µs" "redis µs"
for i in "${!summaries[@]}"; do
    # SUMMARY name rps=… ok=… errors=… p50_ms=… p90_ms=… p99_ms=… max_ms=…
    awk -v server="${server_cpu[$i]:--}" -v redis="${redis_cpu[$i]}" '{
        for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "%-26s %8s %7s %7s %7s %7s %8s %12s %12s\n", $2, v["rps"], v["errors"], v["p50_ms"], v["p90_ms"], v["p99_ms"], v["max_ms"], server, redis
    }' <<<"${summaries[$i]}"
done
describe_end
