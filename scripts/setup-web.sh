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
cache="${HOME}/.cache/openliveness/npm"
log() { printf 'setup-web: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v node >/dev/null 2>&1 || die "node not found: run scripts/setup-node.sh first"
command -v ffmpeg >/dev/null 2>&1 || die "ffmpeg not found: run scripts/setup-node.sh first"
model="$root/models/face_detection_front_128x128_barracuda.onnx"
[[ -f "$model" ]] || die "missing $model: run scripts/setup-vision.sh first"

if [[ ! -x /usr/bin/chromium ]]; then
    # shellcheck source=scripts/lib/apt.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
    apt_install "Chromium" chromium
fi

# npm ci in $1 when its lockfile changed since the last install.
npm_ci() {
    local dir="$1" stamp="$1/node_modules/.package-lock.sha256" want
    want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    log "installing the locked packages in ${dir#"$root"/}"
    rm -f "$stamp"
    # --ignore-scripts: none of the locked packages needs an install script; never run one.
    (cd "$dir" && npm ci --cache "$cache" --prefer-offline --no-audit --no-fund --ignore-scripts --loglevel=error)
    printf '%s\n' "$want" > "$stamp"
}

npm_ci "$root/web"
npm_ci "$root/tests/web"

# Build the page when its sources, lockfile or model changed.
stamp="$root/web/dist/.sources.sha256"
want="$(cd "$root/web" && cat package-lock.json build.mjs tsconfig.json index.html style.css src/*.ts "$model" | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    exit 0
fi
log "type-checking and building web/dist"
(cd "$root/web" && node node_modules/typescript/bin/tsc --noEmit -p . && node build.mjs)
printf '%s\n' "$want" > "$stamp"
