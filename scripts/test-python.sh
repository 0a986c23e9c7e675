#!/usr/bin/env bash
# Runs the Python end-to-end suite (tests/python): the real AWS CLI v1 and boto3 against the
# real server binary. Builds nothing: build the binary first, e.g.
#
#   cargo build -p openliveness-cli && scripts/test-python.sh
#
# Environment:
#   OPENLIVENESS_BIN   the server binary (default: ${CARGO_TARGET_DIR:-target}/debug/openliveness)
# Extra arguments go to pytest, e.g. scripts/test-python.sh -k boto3 -x
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Relative paths in OPENLIVENESS_BIN and CARGO_TARGET_DIR are taken from the caller's directory
# (as cargo takes CARGO_TARGET_DIR); cargo's default target dir is the repository's target/.
absolute() {
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$PWD" "$1" ;;
    esac
}
if [[ -n "${OPENLIVENESS_BIN:-}" ]]; then
    bin="$(absolute "$OPENLIVENESS_BIN")"
elif [[ -n "${CARGO_TARGET_DIR:-}" ]]; then
    bin="$(absolute "$CARGO_TARGET_DIR")/debug/openliveness"
else
    bin="$root/target/debug/openliveness"
fi
export OPENLIVENESS_BIN="$bin"

cd "$root"
bash "$root/scripts/setup-python.sh"
exec "$root/.venv/bin/python" -m pytest -q tests/python "$@"
