#!/usr/bin/env bash
# Installs the system packages openliveness needs on Debian 12, when they are missing.
#
#   scripts/setup.sh          what building and running the server needs
#   scripts/setup.sh --tests  and what the test suite needs (Python's venv for the AWS CLI,
#                             redis-server for the scale-out tests)
#
# It never downloads anything outside Debian's archive; the Rust toolchain must already be
# installed (https://rustup.rs). Idempotent: a second run installs nothing.
set -euo pipefail

with_tests=false
for arg in "$@"; do
    case "$arg" in
        --tests) with_tests=true ;;
        *) echo "setup: unknown argument $arg" >&2; exit 2 ;;
    esac
done

log() { printf 'setup: %s\n' "$*" >&2; }

command -v cargo >/dev/null 2>&1 || {
    log "error: cargo not found; install the Rust toolchain first (rustup), then run this again"
    exit 1
}

missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if $with_tests; then
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
    # A real Redis for the scale-out tests (crates/store/tests/redis_conformance.rs,
    # crates/cli/tests/scale_out.rs); the tests start their own on free loopback ports.
    command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
fi

if ((${#missing[@]})); then
    # shellcheck source=scripts/lib/apt.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
    apt_install "a C compiler, pkg-config, Python 3 with venv and redis-server" "${missing[@]}"
fi
