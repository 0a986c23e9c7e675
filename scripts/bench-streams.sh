#!/usr/bin/env bash
# Streaming benchmark: how many StartFaceLivenessSession streams at real-time rate (one 125 KB
# chunk a second: 1 Mbit/s) one server holds, and its CPU per stream. For each count in
# BENCH_STREAMS it starts a fresh `openliveness serve` (release, embedded store, plain WebSocket
# on loopback) and runs `openliveness-streamgen`: every stream creates a session, opens the
# presigned WebSocket, streams BENCH_SECONDS signed chunks on schedule, ends with the empty
# VideoEvent and waits for DisconnectionEvent. One JSON line per count.
#
#   scripts/bench-streams.sh                      # 100 250 500 1000 streams, 10 s each
#   BENCH_STREAMS="50 200" BENCH_SECONDS=20 scripts/bench-streams.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release -p openliveness-cli -p openliveness-bench >&2
bin="$CARGO_TARGET_DIR/release"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

work="$(mktemp -d)"
# shellcheck source=scripts/lib/bench.sh
source "$root/scripts/lib/bench.sh"
server=""
cleanup() { [[ -n "$server" ]] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# One tenant opens every stream: no admission limit (the defaults are 75 a tenant, 200 a server).
bench_config "$work/config.toml" '[limits]' 'max_streams_per_tenant = 0' 'max_streams = 0'

for streams in ${BENCH_STREAMS:-100 250 500 1000}; do
    rm -rf "$work/data"
    start_server "$bin/openliveness" "$work/config.toml" "$work/data" "$work/server.log"
    server="$server_pid"
    url="$endpoint"
    "$bin/openliveness-streamgen" --endpoint "$url" --streams "$streams" --seconds "${BENCH_SECONDS:-10}" \
        --server-pid "$server" --label "streams-$streams" || true
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
    kill "$drain_pid" 2>/dev/null || true
done
