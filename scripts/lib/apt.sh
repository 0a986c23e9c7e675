# Sourced by the set-up scripts: install Debian packages, as root or with passwordless sudo.
#
#   apt_install WHAT_BY_HAND PACKAGE...
#
# WHAT_BY_HAND says what to install by hand on a system without apt-get. Exits with a clear
# message when packages cannot be installed.
apt_install() {
    local by_hand="$1"
    shift
    local sudo=()
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "$(basename "$0"): missing $* and this is not a Debian system; install $by_hand by hand" >&2
        exit 1
    fi
    if [[ "$(id -u)" != 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
            sudo=(sudo -n)
        else
            echo "$(basename "$0"): missing $*; run this as root (or with passwordless sudo), or: apt-get install -y $*" >&2
            exit 1
        fi
    fi
    echo "$(basename "$0"): installing $* from Debian" >&2
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@"
}
