#!/usr/bin/env bash
# Set up mipnet-mmpose on a newer torch in a second venv (default .venv-torch2.14.1/), next to the
# tested set-up of tools/setup.sh (.venv/, torch 2.4.1). What runs on which torch, measured:
# docs/torch_versions.md.
#
#   bash tools/setup_new_torch.sh                                  # torch 2.14.1 (newest that ran)
#   TORCH=2.13.0 TORCHVISION=0.28.0 bash tools/setup_new_torch.sh  # newest with a stock mmcv sdist
#
# mmcv has no wheel for these torches, so it is built from its sdist against the torch installed
# (about 37 min of CPU, 18-20 min on 2 idle cores). torch >= 2.14 needs C++20 and mmcv 2.1.0's
# setup.py forces -std=c++17: there the sdist is built with that one line changed to -std=c++20.
# The built wheel is kept in a folder of its own inside pip's cache folder, named by the mmcv,
# the torch (with its build, e.g. +cu130) and the C++ standard, and re-used when present: pip's
# own wheel cache is keyed by the sdist only, and would hand a wheel built for another torch
# ("undefined symbol" at import), so the build runs with --no-cache-dir.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: bash tools/setup_new_torch.sh [-h | --help]

Creates (or completes) a second venv with a newer torch: torch and torchvision, mmcv built with
its ops against them (a cached wheel when one exists), then the rest of requirements.txt's pins
and this plugin (editable) through tools/setup.sh. Re-running installs only what is missing.
Environment: TORCH (default 2.14.1) and TORCHVISION (default 0.29.1, the one made for that torch),
VENV (default .venv-torch$TORCH), PYTHON (the interpreter that creates the venv, default python3),
MAX_JOBS (parallel jobs of the mmcv build, default 2), MMCV_WHEELS (where built mmcv wheels are
kept, default <pip cache dir>/mipnet-mmcv-wheels).
--help prints this and installs nothing.
USAGE
}
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    '') ;;
    *) usage >&2; echo "tools/setup_new_torch.sh: unknown argument '$1'" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
TORCH=${TORCH:-2.14.1}
TORCHVISION=${TORCHVISION:-0.29.1}
VENV=${VENV:-.venv-torch$TORCH}
PYTHON=${PYTHON:-python3}
export MAX_JOBS=${MAX_JOBS:-2}

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
# requirements.txt's pins with the chosen torch in place of its torch and torchvision lines.
C="$VENV/constraints.txt"
{ grep -v -E '^(torch|torchvision)==' requirements.txt; printf 'torch==%s\ntorchvision==%s\n' \
    "$TORCH" "$TORCHVISION"; } > "$C"
PIP=("$PY" -m pip install --disable-pip-version-check -c "$C")
MMCV=$(grep -E '^mmcv==' requirements.txt)

# 1. torch. An empty find-links folder for this step: a pip configuration with find-links to a
#    folder of local builds (such as torch 2.13.0+cpu) would otherwise win over PyPI's build of
#    the same version (a local version label sorts higher), and PyPI's torchvision then fails at
#    import ("operator torchvision::nms does not exist").
mkdir -p "$VENV/no-find-links"
PIP_FIND_LINKS="$VENV/no-find-links" "${PIP[@]}" "setuptools<81" wheel ninja \
    "$(grep -E '^numpy==' requirements.txt)" "torch==$TORCH" "torchvision==$TORCHVISION"

# 2. mmcv with its ops, built against that torch once, then from the kept wheel.
install_mmcv() {  # this wheel in place of any mmcv, then its dependencies (mmengine,
                  # opencv-python... at the pins), which mmcv.ops imports
    "${PIP[@]}" --no-deps --force-reinstall "$1"
    "${PIP[@]}" "$1"
}
if ! "$PY" -c "import mmcv.ops" 2>/dev/null; then
    read -r TORCH_BUILD CXX PYTAG < <("$PY" -c "
import sys, torch
release = tuple(int(x) for x in torch.__version__.split('+')[0].split('.')[:2])
print(torch.__version__, 'cxx20' if release >= (2, 14) else 'cxx17',
      f'cp{sys.version_info[0]}{sys.version_info[1]}')")
    WHEELS=${MMCV_WHEELS:-$("$PY" -m pip cache dir)/mipnet-mmcv-wheels}
    KEPT="$WHEELS/${MMCV/==/-}_torch-${TORCH_BUILD}_${CXX}"
    WHEEL=$(ls "$KEPT"/mmcv-*-"$PYTAG"-"$PYTAG"-*.whl 2>/dev/null | head -n 1 || true)
    if [ -n "$WHEEL" ]; then
        echo "mmcv: the wheel built before for torch $TORCH_BUILD: $WHEEL"
        install_mmcv "$WHEEL"
        "$PY" -c "import mmcv.ops" || {
            echo "tools/setup_new_torch.sh: the kept mmcv wheel $WHEEL does not import with torch $TORCH_BUILD (error above); if it names an undefined symbol, delete $KEPT and re-run to build it again" >&2
            exit 1
        }
    else
        echo "mmcv: building $MMCV against torch $TORCH_BUILD ($CXX; about 37 min of CPU) into $KEPT"
        BUILD="$VENV/mmcv-build"
        rm -rf "$BUILD" && mkdir -p "$BUILD/src" "$BUILD/wheel"
        "$PY" -m pip download --disable-pip-version-check --no-deps --no-binary :all: \
            --no-build-isolation --no-cache-dir "$MMCV" -d "$BUILD/src"
        tar -xzf "$BUILD"/src/mmcv-*.tar.gz -C "$BUILD/src"
        SRC=$(ls -d "$BUILD"/src/mmcv-*/)
        if [ "$CXX" = cxx20 ]; then
            # torch's headers (ATen.h) stop with "#error C++20 or later" under mmcv's -std=c++17.
            sed -i "s/extra_compile_args\['cxx'\] = \['-std=c++17'\]/extra_compile_args['cxx'] = ['-std=c++20']/" \
                "$SRC/setup.py"
            grep -q "'-std=c++20'" "$SRC/setup.py" || {
                echo "tools/setup_new_torch.sh: $SRC/setup.py has no extra_compile_args['cxx'] = ['-std=c++17'] line to change to -std=c++20; torch $TORCH needs C++20: patch that sdist's compiler flags by hand or choose TORCH=2.13.0 TORCHVISION=0.28.0" >&2
                exit 1
            }
        fi
        MMCV_WITH_OPS=1 nice -n 10 "$PY" -m pip wheel --disable-pip-version-check -c "$C" \
            --no-build-isolation --no-deps --no-cache-dir "$SRC" -w "$BUILD/wheel"
        mkdir -p "$KEPT"
        # Moved in whole: an interrupted build leaves no wheel in the kept folder.
        mv "$BUILD"/wheel/mmcv-*.whl "$KEPT/"
        WHEEL=$(ls "$KEPT"/mmcv-*-"$PYTAG"-"$PYTAG"-*.whl | head -n 1)
        rm -rf "$BUILD"
        install_mmcv "$WHEEL"
        "$PY" -c "import mmcv.ops"
    fi
fi

# 3. The rest of the pins and the plugin: tools/setup.sh with this venv and these pins (its
#    torch and mmcv steps find them installed).
VENV="$VENV" CONSTRAINTS="$C" bash tools/setup.sh
