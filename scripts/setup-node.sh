#!/usr/bin/env bash
# Prepares the JavaScript side of the streaming tests (tests/node):
#   - Node.js (18 or newer) and npm, from Debian when missing (Debian 12 ships Node 18.x);
#   - FFmpeg, from Debian when missing (scripts/make-test-video.sh encodes the test video with it);
#   - the exact packages of tests/node/package-lock.json, by `npm ci` (integrity-checked).
#
# Idempotent and fast when already done: a stamp file inside tests/node/node_modules records the
# sha256 of the lockfile, and npm runs only when it does not match (npm ci empties node_modules
# first, so the tree never keeps packages that are no longer locked). Nothing is downloaded at
# test run time.
#
# Installing system packages needs root (or sudo); otherwise it stops with a clear message.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/tests/node"
lock="$dir/package-lock.json"
stamp="$dir/node_modules/.package-lock.sha256"
min_node_major=18

log() { printf 'setup-node: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -f "$lock" ]] || die "missing $lock"

node_major() {
    command -v node >/dev/null 2>&1 || return 1
    node -p 'process.versions.node.split(".")[0]' 2>/dev/null
}

missing=()
major="$(node_major || true)"
[[ -n "$major" ]] || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)

if ((${#missing[@]})); then
    # shellcheck source=scripts/lib/apt.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
    apt_install "Node.js >= $min_node_major with npm, and FFmpeg" "${missing[@]}"
    major="$(node_major || true)"
fi

[[ -n "$major" ]] || die "node is still not on PATH"
((major >= min_node_major)) || die "node $(node --version) is too old: the tests need Node.js $min_node_major or newer"
command -v npm >/dev/null 2>&1 || die "npm is still not on PATH"
command -v ffmpeg >/dev/null 2>&1 || die "ffmpeg is still not on PATH"

want="$(sha256sum "$lock" | cut -d' ' -f1)"

# Fast path: node_modules was installed from exactly this lockfile.
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" && -d "$dir/node_modules/@aws-sdk/client-rekognitionstreaming" ]]; then
    exit 0
fi

log "installing the locked packages in tests/node with node $(node --version), npm $(npm --version)"
rm -f "$stamp"
# --ignore-scripts: none of the locked packages needs an install script; never run one.
# Node 18 prints EBADENGINE warnings for the AWS SDK packages (they declare node >= 20); they load
# and work on 18 (checked with Debian 12's node 18.20.4).
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)

printf '%s\n' "$want" > "$stamp.tmp"
mv "$stamp.tmp" "$stamp"
log "ready: $(cd "$dir" && node -p 'require("@aws-sdk/client-rekognitionstreaming/package.json").version' 2>/dev/null || echo '?') of @aws-sdk/client-rekognitionstreaming"
