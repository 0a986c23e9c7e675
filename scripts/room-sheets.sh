#!/usr/bin/env bash
# Renders the room world's contact sheets in docs/evaluation/room/: for each axis extreme, one
# simulated session (seed 31 unless named) with that axis fixed, as a row of eight frames from
# the start of the approach to the end of the colours. Look at them after a change to the
# simulator: they must look like webcam frames of a person in a room.
#
#   scripts/room-sheets.sh [OPENLIVENESS_BINARY]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
binary="${1:-${CARGO_TARGET_DIR:-$root/target}/debug/openliveness}"
out="$root/docs/evaluation/room"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

sheet() {
    local name="$1"
    shift
    "$binary" simulate --world room --out "$work/$name" --strip "$out/$name.jpg" "$@" >/dev/null
    echo "$out/$name.jpg"
}

sheet default --seed 31
sheet room_lux-20 --seed 31 --condition room_lux=20
sheet room_lux-1000 --seed 31 --condition room_lux=1000
sheet room_lux-20000-stress --seed 31 --stress --condition room_lux=20000
sheet colour_temperature_k-2700 --seed 31 --condition colour_temperature_k=2700
sheet colour_temperature_k-6500 --seed 31 --condition colour_temperature_k=6500
sheet light_direction-window --seed 31 --condition light_direction=window
sheet device-phone --seed 31 --condition device=phone --condition screen_brightness=1
sheet device-monitor --seed 31 --condition device=monitor --condition screen_brightness=1
sheet screen_brightness-0.15-stress --seed 31 --stress --condition screen_brightness=0.15
sheet wall_behind_m-0.15-stress --seed 31 --stress --condition wall_behind_m=0.15
sheet wall_behind_m-4 --seed 31 --condition wall_behind_m=4
sheet skin_type-1 --seed 31 --condition skin_type=1
sheet skin_type-6 --seed 31 --condition skin_type=6
sheet skin_type-6-room_lux-20 --seed 31 --condition skin_type=6 --condition room_lux=20
sheet controls-locked --seed 31 --condition controls=locked
sheet white_balance-0.08-stress --seed 31 --stress --condition white_balance_time_constant_s=0.08
sheet fps-8-stress --seed 31 --stress --condition fps=8
sheet resolution-480x640 --seed 31 --condition resolution=480x640
sheet resolution-1280x720 --seed 31 --condition resolution=1280x720
sheet head_turn_deg-15 --seed 31 --condition head_turn_deg=15
sheet glasses --seed 31 --condition glasses=glasses --condition room_lux=60
sheet beard-full --seed 31 --condition beard=full
sheet beard-stubble --seed 31 --condition beard=stubble
sheet backdrop-furniture --seed 31 --condition backdrop=furniture
sheet backdrop-window --seed 31 --condition backdrop=window
sheet backdrop-poster --seed 31 --condition backdrop=poster
sheet backdrop-person --seed 31 --condition backdrop=person
sheet start-too-close --seed 31 --condition start=too-close
sheet look_down_deg-15 --seed 31 --condition look_down_deg=15
sheet hand_shake_deg-0.5-room_lux-30 --seed 31 --condition device=phone --condition hand_shake_deg=0.5 --condition room_lux=30
sheet expressions-natural --seed 32 --condition expressions=natural
for species in printed-photo bent-photo screen-replay video-injection two-faces face-swap relit-replay cut-out-mask; do
    sheet "species-$species" --seed 31 --species "$species"
done
