#!/usr/bin/env bash
# Creates the project-local virtualenv ./.venv (at the repository root) with the pinned,
# hash-checked tools of scripts/python-requirements.txt: the AWS CLI v1, boto3 and pytest.
#
# Idempotent and fast when already done: a stamp file in .venv records the sha256 of the
# requirements file, and nothing is installed while it matches. When the requirements change,
# the virtualenv is emptied and rebuilt, so it never keeps packages that are no longer listed.
#
# Environment:
#   PYTHON   the interpreter to build the virtualenv from (default: python3; needs >= 3.10)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$root/scripts/python-requirements.txt"
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
python="${PYTHON:-python3}"

log() { printf 'setup-python: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -f "$requirements" ]] || die "missing $requirements"
command -v "$python" >/dev/null 2>&1 || die "'$python' not found; install Python 3.10 or newer (Debian: apt-get install python3 python3-venv)"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' \
    || die "$("$python" -V 2>&1) is too old: awscli 1.46 needs Python 3.10 or newer"

want="$("$python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$requirements")"

# Fast path: the virtualenv works and was built from exactly this requirements file.
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] && "$venv/bin/python" -c '' >/dev/null 2>&1; then
    exit 0
fi

# `python3 -m venv` needs the venv and ensurepip modules; Debian ships them in python3-venv.
venv_available() { "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; }
if ! venv_available; then
    # shellcheck source=scripts/lib/apt.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
    apt_install "Python's venv module" python3-venv
    venv_available || die "'$python -m venv' is unavailable; install the venv module (Debian: apt-get install python3-venv)"
fi

log "creating $venv with $("$python" -V 2>&1)"
rm -f "$stamp"
# --clear empties an existing (outdated or broken) virtualenv, so it ends up with exactly the
# packages listed in the requirements file.
"$python" -m venv --clear "$venv"

log "installing $requirements"
# --no-deps: the requirements file lists every transitive dependency, each pinned and hashed.
# --only-binary: every pinned package has a wheel; never run a package's build scripts.
"$venv/bin/python" -m pip install \
    --disable-pip-version-check --no-input --quiet \
    --require-hashes --no-deps --only-binary :all: \
    -r "$requirements"

printf '%s\n' "$want" > "$stamp.tmp"
mv "$stamp.tmp" "$stamp"
log "ready: $("$venv/bin/aws" --version 2>&1)"
