#!/usr/bin/env bash
# Prepares the Amplify example (examples/amplify): Amplify's FaceLivenessDetectorCore 3.6.8 with
# every asset served by openliveness.
#   - the TensorFlow.js BlazeFace the component's face detector loads (config.faceModelUrl),
#     converted from the pinned ONNX model by examples/amplify/convert_blazeface.py with the
#     hash-pinned toolchain of scripts/tfjs-requirements.txt (onnx2tf 1.29.16, tensorflowjs 4.22.0,
#     tensorflow-cpu 2.19.0) in a virtualenv under $HOME/.cache/openliveness; the output is cached
#     there too, keyed by the sha256 of the model, the script and the requirements, so it is
#     converted once (about a minute, plus the first download of the toolchain);
#   - the locked npm packages (npm ci --legacy-peer-deps: face-detection asks for tfjs ^4.21,
#     Amplify pins 4.11.0), then the page built into examples/amplify/dist/ with the
#     tfjs-backend-wasm 4.11.0 binaries (config.binaryPath).
# Needs Node.js and FFmpeg (scripts/setup-node.sh), the model (scripts/setup-vision.sh), Python 3.11.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/examples/amplify"
cache="${HOME}/.cache/openliveness"
# shellcheck source=scripts/lib/web.sh
source "$root/scripts/lib/web.sh"

require_node_and_ffmpeg
model="$root/models/face_detection_front_128x128_barracuda.onnx"
photo="$root/testdata/vision/astronaut.png"
[[ -f "$model" && -f "$photo" ]] || die "missing the model or the test photograph: run scripts/setup-vision.sh first"
requirements="$root/scripts/tfjs-requirements.txt"

key="$(cat "$model" "$dir/convert_blazeface.py" "$requirements" | sha256sum | cut -d' ' -f1)"
converted="$cache/tfjs-blazeface/$key"
if [[ ! -f "$converted/model.json" ]]; then
    venv="$cache/tfjs-venv-$(sha256sum "$requirements" | cut -c1-16)"
    if [[ ! -x "$venv/bin/python" ]]; then
        log "installing the conversion toolchain into $venv"
        rm -rf "$venv.tmp"
        python3 -m venv "$venv.tmp"
        "$venv.tmp/bin/pip" install --quiet --cache-dir "$cache/pip" --no-deps --require-hashes \
            --only-binary=:all: -r "$requirements"
        mv "$venv.tmp" "$venv"
    fi
    # tensorflowjs imports tensorflow_decision_forests, tensorflow_hub and jax for converters this
    # conversion does not use: empty stand-ins keep them (and their downloads) out.
    stubs="$cache/tfjs-stubs"
    mkdir -p "$stubs/tensorflow_decision_forests" "$stubs/tensorflow_hub" "$stubs/jax/experimental"
    : > "$stubs/tensorflow_decision_forests/__init__.py"
    : > "$stubs/tensorflow_hub/__init__.py"
    printf 'import types\nmonitoring = types.SimpleNamespace()\n' > "$stubs/jax/__init__.py"
    : > "$stubs/jax/experimental/__init__.py"
    : > "$stubs/jax/experimental/jax2tf.py"
    log "converting BlazeFace to TensorFlow.js"
    rm -rf "$converted.tmp" "$converted.tmp.work"
    mkdir -p "$(dirname "$converted")"
    (cd "$(dirname "$converted")" && PYTHONPATH="$stubs" TF_CPP_MIN_LOG_LEVEL=2 \
        "$venv/bin/python" "$dir/convert_blazeface.py" "$model" "$converted.tmp" "$photo")
    rm -rf "$converted.tmp.work"
    mv "$converted.tmp" "$converted"
fi

npm_ci "$dir" --legacy-peer-deps

if_changed "$dir/dist/.sources.sha256" \
    "$(cd "$dir" && cat package-lock.json build.mjs index.html src/* "$converted/model.json" | sha256sum | cut -d' ' -f1)" \
    "building examples/amplify/dist" \
    in_dir "$dir" env BLAZEFACE_TFJS_DIR="$converted" node build.mjs
