# Sourced by the set-up scripts of the web pages (setup-web.sh, setup-amplify.sh): their
# messages, the tools they need, and steps that run only when their inputs changed. Needs $root.

log() { printf '%s: %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Node.js and FFmpeg, which scripts/setup-node.sh installs.
require_node_and_ffmpeg() {
    command -v node >/dev/null 2>&1 || die "node not found: run scripts/setup-node.sh first"
    command -v ffmpeg >/dev/null 2>&1 || die "ffmpeg not found: run scripts/setup-node.sh first"
}

#   if_changed STAMP WANT MESSAGE COMMAND...
#
# Runs COMMAND (after logging MESSAGE) unless the file STAMP holds WANT, a sha256 of COMMAND's
# inputs; records WANT in STAMP once COMMAND succeeded.
if_changed() {
    local stamp="$1" want="$2" message="$3"
    shift 3
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    log "$message"
    rm -f "$stamp"
    "$@"
    printf '%s\n' "$want" >"$stamp"
}

#   in_dir DIR COMMAND...
in_dir() {
    local dir="$1"
    shift
    (cd "$dir" && "$@")
}

#   npm_ci DIR [NPM_ARG...]
#
# The exact packages of DIR/package-lock.json (`npm ci`, integrity-checked) when the lockfile
# changed since the last install. npm's cache lives in $HOME/.cache/openliveness/npm, outside
# the clone; --ignore-scripts: none of the locked packages needs an install script, never run one.
npm_ci() {
    local dir="$1"
    shift
    if_changed "$dir/node_modules/.package-lock.sha256" \
        "$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)" \
        "installing the locked packages in ${dir#"$root"/}" \
        in_dir "$dir" npm ci --cache "${HOME}/.cache/openliveness/npm" --prefer-offline \
        --no-audit --no-fund --ignore-scripts --loglevel=error "$@"
}
