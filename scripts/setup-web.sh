#!/usr/bin/env bash
# Prepares the browser client and its end-to-end tests:
#   - Chromium from Debian (the tests drive /usr/bin/chromium with playwright-core);
#   - web/: the exact packages of web/package-lock.json (`npm ci`, integrity-checked), then the
#     page built into web/dist/ (TypeScript bundled by esbuild, onnxruntime-web's WebAssembly,
#     the BlazeFace model from models/), which `openliveness serve` serves at /;
#   - tests/web/: playwright-core, from tests/web/package-lock.json.
# Needs Node.js and FFmpeg (scripts/setup-node.sh) and the face model (scripts/setup-vision.sh).
#
# npm's cache lives in $HOME/.cache/openliveness/npm, outside the clone. Fast when already done:
# stamps record the sha256 of each lockfile and of the page's sources, and npm and the build run
# only when they changed. Nothing is fetched from a CDN, at build or at run time.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/web.sh
source "$root/scripts/lib/web.sh"

require_node_and_ffmpeg
model="$root/models/face_detection_front_128x128_barracuda.onnx"
[[ -f "$model" ]] || die "missing $model: run scripts/setup-vision.sh first"

if [[ ! -x /usr/bin/chromium ]]; then
    # shellcheck source=scripts/lib/apt.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
    apt_install "Chromium" chromium
fi

npm_ci "$root/web"
npm_ci "$root/tests/web"

# Build the page when its sources, lockfile or model changed.
build_page() {
    node node_modules/typescript/bin/tsc --noEmit -p . && node build.mjs
}
if_changed "$root/web/dist/.sources.sha256" \
    "$(cd "$root/web" && cat package-lock.json build.mjs tsconfig.json index.html style.css src/*.ts "$model" | sha256sum | cut -d' ' -f1)" \
    "type-checking and building web/dist" \
    in_dir "$root/web" build_page
