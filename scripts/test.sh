#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing (system packages, and the pinned AWS CLI,
# boto3 and pytest in ./.venv), then the Rust tests (unit, store conformance, the official Rust
# SDK against the real binary, bad input) and the Python tests (AWS CLI and boto3 against the
# real binary).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh --tests
bash scripts/setup-python.sh

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo test --workspace --locked
bash scripts/test-python.sh
