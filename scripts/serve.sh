#!/usr/bin/env bash
# Quick start: installs what is missing, builds openliveness and runs the server on its embedded
# defaults (sessions in ./openliveness-data, listening on 127.0.0.1:8080). On first run it
# generates a credential pair and prints the `export AWS_...` lines to use it.
# Arguments go to `openliveness serve` (see `openliveness serve --help`), e.g.
#   scripts/serve.sh --listen 0.0.0.0:8080 --config openliveness.toml
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup.sh
# FFmpeg's libraries, libclang and the face model: the server links the video decoder.
bash scripts/setup-vision.sh --no-testdata
cargo build --release --locked -p openliveness-cli
exec "${CARGO_TARGET_DIR:-$root/target}/release/openliveness" serve "$@"
