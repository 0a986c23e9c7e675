# Sourced by the benchmark scripts: start `openliveness serve` in the background and wait for the
# line that says where it listens (no sleeps). Needs $work (a scratch directory).

# The server start_server started and the reader of its output; empty while none runs.
server_pid=""
drain_pid=""

#   start_server BINARY CONFIG DATA_DIR LOG_FILE [LOG_LEVEL]
#
# Sets server_pid, endpoint (the first URL the server prints) and drain_pid (the reader that
# keeps the server's standard output flowing so that it never blocks on it).
start_server() {
    local binary="$1" config="$2" data_dir="$3" log_file="$4" level="${5:-warn}" line
    rm -f "$work/server.out"
    mkfifo "$work/server.out"
    "$binary" serve --listen 127.0.0.1:0 --data-dir "$data_dir" --config "$config" --log "$level" \
        >"$work/server.out" 2>"$log_file" &
    server_pid=$!
    exec 3<"$work/server.out"
    endpoint=""
    while IFS= read -r -t 30 line <&3; do
        case "$line" in
            "openliveness listening on "*)
                endpoint="${line#openliveness listening on }"
                break
                ;;
        esac
    done
    if [[ -z "$endpoint" ]]; then
        echo "$(basename "$0"): the server did not start; its log:" >&2
        cat "$log_file" >&2
        exit 1
    fi
    cat <&3 >/dev/null &
    drain_pid=$!
    exec 3<&-
}

# Stops the server start_server started (SIGTERM), waits for it and its reader, and clears
# server_pid and drain_pid. Does nothing when none runs.
stop_server() {
    if [[ -n "${server_pid:-}" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=""
    if [[ -n "${drain_pid:-}" ]]; then
        wait "$drain_pid" 2>/dev/null || true
    fi
    drain_pid=""
}
