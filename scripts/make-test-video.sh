#!/usr/bin/env bash
# Makes a short 640x480 VP8 WebM test video (FFmpeg's synthetic test pattern, 15 fps, 1 Mbit/s,
# no audio), the kind of file a browser's MediaRecorder produces for the Face Liveness stream.
#
#   scripts/make-test-video.sh OUT.webm [SECONDS]     (SECONDS: default 3)
#
# The output is reproducible with the same FFmpeg build: bit-exact flags, no metadata, one
# encoder thread. Needs ffmpeg with libvpx (Debian's ffmpeg; scripts/setup-node.sh installs it).
set -euo pipefail

die() { printf 'make-test-video: error: %s\n' "$*" >&2; exit 1; }

[[ $# -ge 1 && $# -le 2 ]] || die "usage: $0 OUT.webm [SECONDS]"
out="$1"
seconds="${2:-3}"
[[ "$seconds" =~ ^[0-9]+([.][0-9]+)?$ ]] && [[ "$seconds" != 0 ]] || die "SECONDS must be a positive number, got '$seconds'"
command -v ffmpeg >/dev/null 2>&1 || die "ffmpeg not found (Debian: apt-get install ffmpeg, or run scripts/setup-node.sh)"

ffmpeg -nostdin -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc=size=640x480:rate=15" \
    -t "$seconds" \
    -map 0:v -an -sn -dn \
    -c:v libvpx -b:v 1M -deadline realtime -cpu-used 8 -threads 1 -g 15 -pix_fmt yuv420p \
    -fflags +bitexact -flags:v +bitexact -map_metadata -1 \
    -f webm "$out"
